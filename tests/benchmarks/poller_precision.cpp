// SPDX-License-Identifier: MIT
// aio_poller_precision: how late an idle epoll loop wakes for a short deadline, by the way the
// deadline is handed to the kernel, and what level- vs edge-triggered registration costs per
// readiness wait. Linux only; raw system calls, no aio, so that the ways compare on their own.
//
// Deadlines: each way waits `--count` times (default 1000) for steady_clock::now() + 1 ms with
// nothing else in the epoll set but the way's own fds, and reports the overshoot (return time
// minus deadline) in µs: p50, p99, max, and how many returned early (must be 0).
//   epoll_wait    the timeout rounded up to whole ms (what asyncio and libuv do)
//   timerfd       a timerfd armed with the absolute deadline (TFD_TIMER_ABSTIME,
//                 CLOCK_MONOTONIC) in the epoll set, epoll_wait(-1)
//   epoll_pwait2  the remaining time as a timespec (kernel 5.11+, glibc 2.35+)
// Readiness: `--count` × 100 round trips of one byte through a pipe: write, wait readable, read.
//   LT + MOD      level-triggered, interest switched on before and off after each wait (what a
//                 registration kept while no one waits needs under LT, or it spins the loop)
//   ET once       edge-triggered, registered once for the whole run
// Run it on a quiet machine and compare the ways within one run.
//
//     ./aio_poller_precision [--count N]
#if !defined(__linux__)
int main() {
    return 0;
}
#else

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

namespace {

using steady = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "aio_poller_precision: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
};

void report(const char* name, std::vector<double>& overshoot_us) {
    std::sort(overshoot_us.begin(), overshoot_us.end());
    const auto at = [&](double q) {
        return overshoot_us[static_cast<std::size_t>(q * double(overshoot_us.size() - 1))];
    };
    const auto early =
        std::count_if(overshoot_us.begin(), overshoot_us.end(), [](double v) { return v < 0; });
    std::printf("| %-13s | %8.1f | %8.1f | %8.1f | %5ld |\n", name, at(0.5), at(0.99),
                overshoot_us.back(), static_cast<long>(early));
}

timespec to_timespec(steady::duration d) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

void wait_epoll_wait(int ep, steady::time_point deadline) {
    epoll_event ev[4];
    for (;;) {
        const auto left = deadline - steady::now();
        if (left <= steady::duration::zero()) {
            return;
        }
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
        if (::epoll_wait(ep, ev, 4, static_cast<int>(ms)) < 0 && errno != EINTR) {
            die("epoll_wait");
        }
    }
}

void wait_timerfd(int ep, int timer, steady::time_point deadline) {
    itimerspec spec{};
    spec.it_value = to_timespec(deadline.time_since_epoch());
    if (::timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
        die("timerfd_settime");
    }
    epoll_event ev[4];
    int n = 0;
    while ((n = ::epoll_wait(ep, ev, 4, -1)) <= 0) {
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
    }
    std::uint64_t ticks = 0;
    if (::read(timer, &ticks, sizeof ticks) < 0) {
        die("read timerfd");
    }
}

void wait_epoll_pwait2(int ep, steady::time_point deadline) {
    epoll_event ev[4];
    for (;;) {
        const auto left = deadline - steady::now();
        if (left <= steady::duration::zero()) {
            return;
        }
        const timespec ts = to_timespec(left);
        if (::epoll_pwait2(ep, ev, 4, &ts, nullptr) < 0 && errno != EINTR) {
            die("epoll_pwait2");
        }
    }
}

// Each way waits in turn for the same kind of deadline, so that a drift in the machine's load
// touches them alike. `fraction`: add i × 0.37 ms mod 1 ms, so that deadlines fall between ms.
void measure(int count, bool fraction) {
    fd_guard ep{::epoll_create1(EPOLL_CLOEXEC)};  // nothing but the timerfd: never ready
    fd_guard ep_t{::epoll_create1(EPOLL_CLOEXEC)};
    fd_guard timer{::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)};
    if (ep.fd < 0 || ep_t.fd < 0 || timer.fd < 0) {
        die("epoll_create1 / timerfd_create");
    }
    epoll_event reg{};
    reg.events = EPOLLIN;
    if (::epoll_ctl(ep_t.fd, EPOLL_CTL_ADD, timer.fd, &reg) < 0) {
        die("epoll_ctl");
    }
    epoll_event ev[4];
    const timespec zero{};
    const bool pwait2 = ::epoll_pwait2(ep.fd, ev, 4, &zero, nullptr) >= 0;
    std::vector<double> a, b, c;
    const auto over = [](steady::time_point deadline) {
        return std::chrono::duration<double, std::micro>(steady::now() - deadline).count();
    };
    for (int i = 0; i < count; ++i) {
        const auto extra =
            fraction ? std::chrono::microseconds(i * 370 % 1000) : std::chrono::microseconds(0);
        steady::time_point deadline = steady::now() + std::chrono::milliseconds(1) + extra;
        wait_epoll_wait(ep.fd, deadline);
        a.push_back(over(deadline));
        deadline = steady::now() + std::chrono::milliseconds(1) + extra;
        wait_timerfd(ep_t.fd, timer.fd, deadline);
        b.push_back(over(deadline));
        if (pwait2) {
            deadline = steady::now() + std::chrono::milliseconds(1) + extra;
            wait_epoll_pwait2(ep.fd, deadline);
            c.push_back(over(deadline));
        }
    }
    std::printf("\novershoot of a deadline %s, %d waits each (interleaved), µs\n\n",
                fraction ? "1 ms + a sub-ms fraction away" : "1 ms away", count);
    std::printf("| way           |      p50 |      p99 |      max | early |\n");
    std::printf("|---------------|---------:|---------:|---------:|------:|\n");
    report("epoll_wait", a);
    report("timerfd", b);
    if (pwait2) {
        report("epoll_pwait2", c);
    } else {
        std::printf("| epoll_pwait2  | not available here (errno %d) |\n", errno);
    }
}

// The cost of re-arming the timerfd, paid when the earliest deadline changes.
double settime_cost(int rounds) {
    fd_guard timer{::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)};
    const auto start = steady::now();
    for (int i = 0; i < rounds; ++i) {
        itimerspec spec{};
        spec.it_value = to_timespec((start + std::chrono::seconds(10 + i)).time_since_epoch());
        if (::timerfd_settime(timer.fd, TFD_TIMER_ABSTIME, &spec, nullptr) < 0) {
            die("timerfd_settime");
        }
    }
    return std::chrono::duration<double, std::nano>(steady::now() - start).count() / rounds;
}

double readiness(bool edge, int rounds) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
        die("pipe2");
    }
    fd_guard r{p[0]}, w{p[1]};
    fd_guard ep{::epoll_create1(EPOLL_CLOEXEC)};
    epoll_event reg{};
    reg.events = edge ? (EPOLLIN | EPOLLET) : 0;
    if (::epoll_ctl(ep.fd, EPOLL_CTL_ADD, r.fd, &reg) < 0) {
        die("epoll_ctl add");
    }
    epoll_event ev[4];
    char byte = 'x';
    const auto start = steady::now();
    for (int i = 0; i < rounds; ++i) {
        if (!edge) {
            reg.events = EPOLLIN;
            ::epoll_ctl(ep.fd, EPOLL_CTL_MOD, r.fd, &reg);
        }
        if (::write(w.fd, &byte, 1) != 1) {
            die("write");
        }
        if (::epoll_wait(ep.fd, ev, 4, 1000) != 1) {
            die("epoll_wait (readiness)");
        }
        if (::read(r.fd, &byte, 1) != 1) {
            die("read");
        }
        if (!edge) {
            reg.events = 0;
            ::epoll_ctl(ep.fd, EPOLL_CTL_MOD, r.fd, &reg);
        }
    }
    return std::chrono::duration<double, std::nano>(steady::now() - start).count() / rounds;
}

}  // namespace

int main(int argc, char** argv) {
    int count = 1000;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--count" && i + 1 < argc) {
            char* end = nullptr;
            const long n = std::strtol(argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 1'000'000) {
                std::fprintf(stderr, "aio_poller_precision: --count wants 1..1000000\n");
                return 2;
            }
            count = static_cast<int>(n);
        } else {
            std::fprintf(stderr, "aio_poller_precision: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    measure(count, false);
    measure(count, true);
    std::printf("\ntimerfd_settime (a re-arm): %.0f ns\n", settime_cost(count * 100));

    const int rounds = count * 100;
    const double lt = readiness(false, rounds);
    const double et = readiness(true, rounds);
    std::printf("\nreadiness round trip (write, wait readable, read), %d rounds, ns each\n\n",
                rounds);
    std::printf("| LT + MOD per wait | %8.0f |\n| ET registered once | %8.0f |\n", lt, et);
    return 0;
}

#endif
