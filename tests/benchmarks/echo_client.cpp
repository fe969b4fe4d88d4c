// SPDX-License-Identifier: MIT
// aio_echo_client: the load client of the echo benchmark, the same for every server (aio,
// Python asyncio, asyncio + uvloop, Asio). It does not use aio: plain non-blocking sockets and
// one epoll loop on one thread.
//
// why one thread: the client shares the 2-core machine with the server. A ping-pong request
// costs the client what it costs an efficient server (a send, a recv, a share of one
// epoll_wait), so one thread keeps up with any single-threaded server while leaving it the
// other core; more threads would only take CPU from the server. The result line reports the
// client's own CPU (client_cpu_s): close to `seconds` would mean the client was the limit.
//
// Ping-pong (vmbench's setup): each of C connections sends a message of S bytes, waits for the
// whole echo, and sends the next, for a warm-up and then a measured duration. Every echoed byte
// is compared with what was sent (each message carries its sequence number in its first and
// last 8 bytes, the rest is random per connection). Result, one JSON line:
//   {"bench":"echo","server":L,"size":S,"clients":C,"requests":N,"seconds":T,"rps":N/T,
//    "p50_us":…,"p99_us":…,"client_cpu_s":…,"valid":true}
// requests = echoes completed in the measured window; latency = from the first byte sent to
// the last byte received, one clock read per request (a log-linear histogram, < 1.6 % error).
//
// Idle (--idle): opens C connections, each makes one 1-byte round trip (so the server has
// accepted and served it), then holds them for the duration while reading the server's RSS and
// CPU time from /proc/<--server-pid>. Result:
//   {"bench":"echo_idle","server":L,"connections":C,"seconds":T,"base_rss_bytes":…,
//    "rss_bytes":…,"bytes_per_conn":…,"idle_cpu_s":…,"valid":true}
// bytes_per_conn = (RSS at the end of the hold - RSS before connecting) / C, the server's own
// memory only (not the kernel's socket buffers); idle_cpu_s = the server's user + sys CPU over
// the hold. valid = no connection was closed or sent anything during the hold.
//
// Every wait is bounded: connecting by --connect-timeout, a request that makes no progress
// by --timeout, the end of the run by --timeout after the measured window.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
constexpr const char* prog = "aio_echo_client";

struct options {
    std::string host = "127.0.0.1";
    int port = 0;
    std::string unix_path;
    std::size_t size = 1024;
    std::size_t clients = 10;
    double duration = 5.0;
    double warmup = 1.0;
    double timeout = 10.0;
    double connect_timeout = 60.0;
    std::string label = "unknown";
    bool idle = false;
    long server_pid = 0;
};

[[noreturn]] void usage(const char* error) {
    std::fprintf(
        stderr,
        "%s%s"
        "usage: %s (--port N [--host IPv4] | --unix PATH) [--size BYTES] [--clients C]\n"
        "       [--duration S] [--warmup S] [--timeout S] [--connect-timeout S] [--label L]\n"
        "       [--idle --server-pid PID]\n"
        "  ping-pong: C connections each send S bytes and wait for the whole echo, repeatedly;\n"
        "  one JSON line with requests/s and p50/p99 latency. --idle: hold C idle connections\n"
        "  for the duration, report the server's memory per connection and CPU while idle.\n",
        error != nullptr ? error : "", error != nullptr ? "\n" : "", prog);
    std::exit(error != nullptr ? 2 : 0);
}

[[noreturn]] void bad_value(std::string_view option, const char* value, const char* want) {
    const std::string error = std::string(option) + ": '" + value + "' is not " + want;
    usage(error.c_str());
}

double parse_number(std::string_view option, const char* value) {
    char* end = nullptr;
    const double number = std::strtod(value, &end);
    if (end == value || *end != '\0' || !std::isfinite(number)) {
        bad_value(option, value, "a finite number");
    }
    return number;
}

double parse_whole(std::string_view option, const char* value, double lo, double hi,
                   const char* want) {
    const double number = parse_number(option, value);
    if (number < lo || number > hi || number != std::floor(number)) {
        bad_value(option, value, want);
    }
    return number;
}

options parse_options(int argc, char** argv) {
    options o;
    bool port_given = false;
    bool host_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(nullptr);
        }
        if (arg == "--idle") {
            o.idle = true;
            continue;
        }
        const bool known = arg == "--host" || arg == "--port" || arg == "--unix" ||
                           arg == "--size" || arg == "--clients" || arg == "--duration" ||
                           arg == "--warmup" || arg == "--timeout" || arg == "--connect-timeout" ||
                           arg == "--label" || arg == "--server-pid";
        if (!known) {
            const std::string error = "unknown option '" + std::string(arg) + "'";
            usage(error.c_str());
        }
        if (i + 1 >= argc) {
            const std::string error = std::string(arg) + ": missing value";
            usage(error.c_str());
        }
        const char* value = argv[++i];
        if (arg == "--host") {
            in_addr addr{};
            if (::inet_pton(AF_INET, value, &addr) != 1) {
                bad_value(arg, value, "an IPv4 address such as 127.0.0.1");
            }
            o.host = value;
            host_given = true;
        } else if (arg == "--port") {
            o.port = static_cast<int>(parse_whole(arg, value, 1, 65535, "a port from 1 to 65535"));
            port_given = true;
        } else if (arg == "--unix") {
            if (*value == '\0' || std::strlen(value) >= sizeof(sockaddr_un{}.sun_path)) {
                bad_value(arg, value, "a socket path of 1 to 107 bytes");
            }
            o.unix_path = value;
        } else if (arg == "--size") {
            o.size = static_cast<std::size_t>(parse_whole(arg, value, 1, 64.0 * 1024 * 1024,
                                                          "a whole number of bytes, 1 to 64Mi"));
        } else if (arg == "--clients") {
            o.clients = static_cast<std::size_t>(
                parse_whole(arg, value, 1, 1'000'000, "a whole number from 1 to 1e6"));
        } else if (arg == "--label") {
            o.label = value;
        } else if (arg == "--server-pid") {
            o.server_pid = static_cast<long>(
                parse_whole(arg, value, 1, 4'194'304, "a process id (1 to 4194304)"));
        } else {
            const double s = parse_number(arg, value);
            const bool zero_ok = arg == "--warmup";
            if (s > 86400 || (zero_ok ? s < 0 : s <= 0)) {
                bad_value(arg, value,
                          zero_ok ? "a number of seconds from 0 to 86400"
                                  : "a number of seconds above 0, at most 86400");
            }
            (arg == "--duration"  ? o.duration
             : arg == "--warmup"  ? o.warmup
             : arg == "--timeout" ? o.timeout
                                  : o.connect_timeout) = s;
        }
    }
    if (!o.unix_path.empty() && (port_given || host_given)) {
        usage("--unix and --host/--port are exclusive");
    }
    if (o.unix_path.empty() && !port_given) {
        usage("--port (or --unix) is required");
    }
    if (o.idle && o.server_pid == 0) {
        usage("--idle needs --server-pid (the server whose memory and CPU are measured)");
    }
    if (!o.idle && o.server_pid != 0) {
        usage("--server-pid is only for --idle");
    }
    return o;
}

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "%s: %s\n", prog, what.c_str());
    std::exit(1);
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

std::string errno_text(const char* call) {
    return std::string(call) + ": " + std::strerror(errno);
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

double seconds_between(clock_type::time_point a, clock_type::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

double own_cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    const auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return tv(u.ru_utime) + tv(u.ru_stime);
}

/// Raises the soft RLIMIT_NOFILE (up to the hard limit) so that `fds` descriptors fit; refuses,
/// with exit status 2, a count the hard limit does not allow.
void ensure_fd_limit(std::size_t connections) {
    const rlim_t need = static_cast<rlim_t>(connections) + 32;  // epoll, stdio, /proc reads
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        fail(errno_text("getrlimit"));
    }
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < need) {
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
            std::fprintf(stderr,
                         "%s: --clients %zu needs %llu file descriptors, but the hard limit "
                         "(ulimit -Hn) is %llu\n",
                         prog, connections, static_cast<unsigned long long>(need),
                         static_cast<unsigned long long>(lim.rlim_max));
            std::exit(2);
        }
        lim.rlim_cur = need;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
            fail(errno_text("setrlimit(RLIMIT_NOFILE)"));
        }
    }
}

/// Where the server listens: an IPv4 address and port, or a Unix socket path.
struct endpoint {
    sockaddr_storage addr{};
    socklen_t len = 0;
    bool tcp = true;
    std::string text;
};

endpoint make_endpoint(const options& o) {
    endpoint e;
    if (!o.unix_path.empty()) {
        auto* un = reinterpret_cast<sockaddr_un*>(&e.addr);
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, o.unix_path.c_str(), o.unix_path.size() + 1);
        e.len = static_cast<socklen_t>(sizeof(sockaddr_un));
        e.tcp = false;
        e.text = o.unix_path;
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&e.addr);
        in->sin_family = AF_INET;
        in->sin_port = htons(static_cast<std::uint16_t>(o.port));
        ::inet_pton(AF_INET, o.host.c_str(), &in->sin_addr);
        e.len = static_cast<socklen_t>(sizeof(sockaddr_in));
        e.text = o.host + ":" + std::to_string(o.port);
    }
    return e;
}

/// Latencies in nanoseconds, log-linear buckets: exact below 128 ns, then 64 buckets per power
/// of two (relative error below 1/64). Bounded memory whatever the number of requests.
class histogram {
public:
    void add(std::uint64_t ns) {
        ++m_counts[index(ns)];
        ++m_total;
    }
    void clear() {
        m_counts.fill(0);
        m_total = 0;
    }
    std::uint64_t total() const { return m_total; }
    /// The q-quantile (0 < q <= 1) in microseconds: the middle of the bucket holding the
    /// ceil(q * total)-th smallest value.
    double quantile_us(double q) const {
        if (m_total == 0) {
            return 0;
        }
        const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(m_total)));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < m_counts.size(); ++i) {
            seen += m_counts[i];
            if (seen >= std::max<std::uint64_t>(rank, 1)) {
                return middle_ns(i) / 1000.0;
            }
        }
        return middle_ns(m_counts.size() - 1) / 1000.0;
    }

private:
    static constexpr std::size_t buckets = 64 * 60;
    static std::size_t index(std::uint64_t ns) {
        if (ns < 128) {
            return static_cast<std::size_t>(ns);
        }
        const int shift = std::bit_width(ns) - 7;  // keep the top 7 bits: [64, 128)
        return static_cast<std::size_t>(shift) * 64 + static_cast<std::size_t>(ns >> shift);
    }
    static double middle_ns(std::size_t i) {
        if (i < 128) {
            return static_cast<double>(i);
        }
        const std::size_t shift = i / 64 - 1;
        const double low = std::ldexp(static_cast<double>(i % 64 + 64), static_cast<int>(shift));
        return low + std::ldexp(0.5, static_cast<int>(shift));
    }
    std::array<std::uint64_t, buckets> m_counts{};
    std::uint64_t m_total = 0;
};

/// One connection: the message it sends (random, with the sequence number at both ends), how
/// much of the current request is sent and received back, and when it last made progress.
struct connection {
    int fd = -1;
    std::unique_ptr<unsigned char[]> message;
    std::size_t sent = 0;
    std::size_t received = 0;
    std::uint64_t sequence = 0;
    bool in_flight = false;
    bool watching_out = false;
    clock_type::time_point started{};
    clock_type::time_point progress{};
};

class client {
public:
    client(const options& o, const endpoint& e)
        : m_opt(o), m_ep(e), m_conns(o.clients), m_scratch(std::min<std::size_t>(o.size, 1 << 18)) {
        m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
        if (m_epoll < 0) {
            fail(errno_text("epoll_create1"));
        }
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    ~client() {
        // why an abortive close (RST): an orderly one leaves each port in TIME_WAIT for a
        // minute, and a comparison's runs open tens of thousands of connections: connect()
        // slows down searching for a free port, then fails. Every echo has been received.
        const linger abort{1, 0};
        for (connection& c : m_conns) {
            if (c.fd >= 0) {
                if (m_ep.tcp) {
                    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
                }
                ::close(c.fd);
            }
        }
        ::close(m_epoll);
    }

    /// Opens every connection, at most `pace` handshakes and probes at a time, each confirmed
    /// by a 1-byte round trip (the server has accepted it and serves it).
    void connect_all(double timeout) {
        constexpr std::size_t pace = 64;
        const auto deadline = clock_type::now() + to_duration(timeout);
        std::size_t next = 0;
        std::size_t pending = 0;
        std::size_t done = 0;
        std::vector<epoll_event> events(pace);
        while (done < m_conns.size()) {
            while (pending < pace && next < m_conns.size()) {
                open_one(next++);
                ++pending;
            }
            const auto now = clock_type::now();
            if (now >= deadline) {
                fail("opened " + std::to_string(done) + " of " + std::to_string(m_conns.size()) +
                     " connections to " + m_ep.text + " within --connect-timeout " +
                     seconds_text(timeout));
            }
            const int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()),
                                       wait_ms(now, deadline));
            if (n < 0 && errno != EINTR) {
                fail(errno_text("epoll_wait"));
            }
            for (int i = 0; i < n; ++i) {
                connection& c = *static_cast<connection*>(events[i].data.ptr);
                if (probe_step(c)) {
                    --pending;
                    ++done;
                }
            }
        }
    }

    /// Ping-pong for warm-up + duration; returns false if an echo did not match.
    bool ping_pong(histogram& latencies, std::uint64_t& requests, double& seconds) {
        const auto t0 = clock_type::now();
        const auto measure_start = t0 + to_duration(m_opt.warmup);
        const auto measure_end = measure_start + to_duration(m_opt.duration);
        const auto hard_end = measure_end + to_duration(m_opt.timeout);
        const auto stall = to_duration(m_opt.timeout);
        for (connection& c : m_conns) {
            watch(c, EPOLLIN);
            start_request(c, t0);
        }
        std::vector<epoll_event> events(std::min<std::size_t>(m_conns.size(), 1024));
        auto last_stall_check = t0;
        auto now = t0;
        while (m_in_flight > 0) {
            if (now >= hard_end) {
                fail(std::to_string(m_in_flight) + " request(s) unanswered " +
                     seconds_text(m_opt.timeout) + " after the end of the run");
            }
            if (now - last_stall_check >= std::chrono::seconds(1)) {
                last_stall_check = now;
                check_stalls(now, stall);
            }
            const int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()),
                                       std::min(wait_ms(now, hard_end), 100));
            if (n < 0 && errno != EINTR) {
                fail(errno_text("epoll_wait"));
            }
            now = clock_type::now();
            for (int i = 0; i < n; ++i) {
                connection& c = *static_cast<connection*>(events[i].data.ptr);
                const std::uint32_t ev = events[i].events;
                if ((ev & EPOLLOUT) != 0 && c.sent < m_opt.size) {
                    send_some(c, now);
                }
                if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
                    if (!receive_some(c)) {
                        return false;
                    }
                    if (c.in_flight && c.received == m_opt.size) {
                        // why one clock read: the end of this request is the start of the next
                        now = clock_type::now();
                        c.in_flight = false;
                        --m_in_flight;
                        if (now >= measure_start && now < measure_end) {
                            latencies.add(static_cast<std::uint64_t>(
                                std::chrono::duration_cast<std::chrono::nanoseconds>(now -
                                                                                     c.started)
                                    .count()));
                        }
                        if (now < measure_end) {
                            start_request(c, now);
                        }
                    }
                }
            }
        }
        // the loop ends only once every connection has stopped, after measure_end
        requests = latencies.total();
        seconds = seconds_between(measure_start, measure_end);
        return true;
    }

    /// Holds the connections for the duration; false if any is closed or receives anything.
    bool hold(double duration, long pid, std::uint64_t& rss_max) {
        for (connection& c : m_conns) {
            watch(c, EPOLLIN | EPOLLRDHUP);
        }
        const auto end = clock_type::now() + to_duration(duration);
        std::vector<epoll_event> events(16);
        bool quiet = true;
        for (auto now = clock_type::now(); now < end; now = clock_type::now()) {
            const int n = ::epoll_wait(m_epoll, events.data(), static_cast<int>(events.size()),
                                       std::min(wait_ms(now, end), 100));
            if (n < 0 && errno != EINTR) {
                fail(errno_text("epoll_wait"));
            }
            if (n > 0) {
                quiet = false;
                std::fprintf(stderr, "%s: an idle connection was closed or got data\n", prog);
                break;
            }
            rss_max = std::max(rss_max, read_rss(pid));
        }
        return quiet;
    }

    static std::uint64_t read_rss(long pid) {
        const std::string path = "/proc/" + std::to_string(pid) + "/statm";
        std::FILE* f = std::fopen(path.c_str(), "r");
        if (f == nullptr) {
            fail("cannot read " + path + " (is --server-pid " + std::to_string(pid) +
                 " a running process of this user?)");
        }
        unsigned long long size = 0;
        unsigned long long resident = 0;
        const int got = std::fscanf(f, "%llu %llu", &size, &resident);
        std::fclose(f);
        if (got != 2) {
            fail("cannot parse " + path);
        }
        return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    }

    /// The process's user + sys CPU seconds from /proc/<pid>/stat (fields 14 and 15).
    static double read_cpu(long pid) {
        const std::string path = "/proc/" + std::to_string(pid) + "/stat";
        std::FILE* f = std::fopen(path.c_str(), "r");
        if (f == nullptr) {
            fail("cannot read " + path);
        }
        char buf[1024];
        const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = '\0';
        const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
        unsigned long long utime = 0;
        unsigned long long stime = 0;
        // after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
        if (p == nullptr ||
            std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                        &stime) != 2) {
            fail("cannot parse " + path);
        }
        return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }

private:
    static clock_type::duration to_duration(double s) {
        return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(s));
    }

    static int wait_ms(clock_type::time_point now, clock_type::time_point until) {
        if (until <= now) {
            return 0;
        }
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
        return static_cast<int>(std::min<long long>(ms, 1000));
    }

    void watch(connection& c, std::uint32_t events) {
        epoll_event ev{};
        ev.events = events;
        ev.data.ptr = &c;
        if (::epoll_ctl(m_epoll, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
            fail(errno_text("epoll_ctl"));
        }
        c.watching_out = (events & EPOLLOUT) != 0;
    }

    void open_one(std::size_t i) {
        connection& c = m_conns[i];
        c.fd = ::socket(m_ep.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            fail(errno_text("socket") + " (connection " + std::to_string(i + 1) + ")");
        }
        if (m_ep.tcp) {
            const int one = 1;
            ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&m_ep.addr), m_ep.len) != 0 &&
            errno != EINPROGRESS) {
            fail(errno_text("connect") + " to " + m_ep.text + " (connection " +
                 std::to_string(i + 1) + ")");
        }
        epoll_event ev{};
        ev.events = EPOLLOUT;
        ev.data.ptr = &c;
        if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
            fail(errno_text("epoll_ctl"));
        }
        c.watching_out = true;
        std::mt19937_64 gen(i + 1);
        c.message = std::make_unique<unsigned char[]>(m_opt.size);
        for (std::size_t b = 0; b < m_opt.size; ++b) {
            c.message[b] = static_cast<unsigned char>(gen());
        }
    }

    /// The connect and the 1-byte probe of one connection; true when the probe came back.
    bool probe_step(connection& c) {
        if (c.watching_out) {  // the handshake finished (or failed)
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                errno = err;
                fail(errno_text("connect") + " to " + m_ep.text);
            }
            const unsigned char probe = 'p';
            if (::send(c.fd, &probe, 1, MSG_NOSIGNAL) != 1) {
                fail(errno_text("send (probe)"));
            }
            watch(c, EPOLLIN);
            return false;
        }
        unsigned char echo = 0;
        const ssize_t n = ::recv(c.fd, &echo, 1, 0);
        if (n == 1 && echo == 'p') {
            watch(c, 0);  // quiet until the run starts
            return true;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return false;
        }
        fail(n == 0  ? std::string("the server closed a connection before echoing its probe")
             : n < 0 ? errno_text("recv (probe)")
                     : std::string("the probe's echo was wrong"));
    }

    void start_request(connection& c, clock_type::time_point now) {
        ++c.sequence;
        std::memcpy(c.message.get(), &c.sequence, std::min<std::size_t>(8, m_opt.size));
        if (m_opt.size >= 16) {
            std::memcpy(c.message.get() + m_opt.size - 8, &c.sequence, 8);
        }
        c.sent = 0;
        c.received = 0;
        c.started = now;
        c.in_flight = true;
        ++m_in_flight;
        send_some(c, now);
    }

    void send_some(connection& c, clock_type::time_point now) {
        const ssize_t n = ::send(c.fd, c.message.get() + c.sent, m_opt.size - c.sent, MSG_NOSIGNAL);
        if (n > 0) {
            c.sent += static_cast<std::size_t>(n);
            c.progress = now;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            fail(errno_text("send"));
        }
        const bool want_out = c.sent < m_opt.size;
        if (want_out != c.watching_out) {
            watch(c, want_out ? (EPOLLIN | EPOLLOUT) : EPOLLIN);
        }
    }

    /// Reads what has arrived (never more than was sent) and compares it with the message.
    bool receive_some(connection& c) {
        const std::size_t want = std::min(c.sent - c.received, m_scratch.size());
        if (want == 0) {
            // nothing outstanding: anything readable now is a stray byte or the server closing
            unsigned char stray = 0;
            const ssize_t n = ::recv(c.fd, &stray, 1, MSG_PEEK);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                return true;
            }
            fail(n == 0  ? std::string("the server closed a connection")
                 : n < 0 ? errno_text("recv")
                         : std::string("the server sent unasked bytes"));
        }
        const ssize_t n = ::recv(c.fd, m_scratch.data(), want, 0);
        if (n > 0) {
            const auto got = static_cast<std::size_t>(n);
            if (std::memcmp(m_scratch.data(), c.message.get() + c.received, got) != 0) {
                std::fprintf(stderr, "%s: echoed bytes differ from the sent ones (request %llu)\n",
                             prog, static_cast<unsigned long long>(c.sequence));
                return false;
            }
            c.received += got;
            c.progress = clock_type::now();
            return true;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return true;
        }
        fail(n == 0 ? "the server closed a connection in the middle of an echo"
                    : errno_text("recv"));
    }

    void check_stalls(clock_type::time_point now, clock_type::duration stall) {
        for (const connection& c : m_conns) {
            const auto last = std::max(c.progress, c.started);
            if (c.in_flight && now - last > stall) {
                fail("a request made no progress for --timeout " + seconds_text(m_opt.timeout) +
                     " (sent " + std::to_string(c.sent) + ", echoed " + std::to_string(c.received) +
                     " of " + std::to_string(m_opt.size) + " bytes)");
            }
        }
    }

    const options& m_opt;
    const endpoint& m_ep;
    std::vector<connection> m_conns;
    std::vector<unsigned char> m_scratch;
    int m_epoll = -1;
    std::size_t m_in_flight = 0;
};

int run_ping_pong(const options& o, const endpoint& e) {
    client cl(o, e);
    cl.connect_all(o.connect_timeout);
    histogram latencies;
    std::uint64_t requests = 0;
    double seconds = 0;
    const double cpu0 = own_cpu_seconds();
    const bool valid = cl.ping_pong(latencies, requests, seconds);
    const double cpu = own_cpu_seconds() - cpu0;
    std::printf(
        "{\"bench\":\"echo\",\"server\":%s,\"size\":%zu,\"clients\":%zu,"
        "\"requests\":%llu,\"seconds\":%.6f,\"rps\":%.1f,\"p50_us\":%.1f,"
        "\"p99_us\":%.1f,\"client_cpu_s\":%.3f,\"valid\":%s}\n",
        json_string(o.label).c_str(), o.size, o.clients, static_cast<unsigned long long>(requests),
        seconds, seconds > 0 ? static_cast<double>(requests) / seconds : 0.0,
        latencies.quantile_us(0.50), latencies.quantile_us(0.99), cpu, valid ? "true" : "false");
    std::fflush(stdout);
    if (!valid) {
        return 1;
    }
    if (requests == 0) {
        std::fprintf(stderr, "%s: no request completed in the measured window\n", prog);
        return 1;
    }
    return 0;
}

int run_idle(const options& o, const endpoint& e) {
    const long pid = o.server_pid;
    const std::uint64_t base = client::read_rss(pid);
    client cl(o, e);
    cl.connect_all(o.connect_timeout);
    const double cpu0 = client::read_cpu(pid);
    const auto t0 = clock_type::now();
    std::uint64_t rss_max = client::read_rss(pid);
    const bool valid = cl.hold(o.duration, pid, rss_max);
    const double seconds = seconds_between(t0, clock_type::now());
    const double cpu = client::read_cpu(pid) - cpu0;
    const std::uint64_t rss = client::read_rss(pid);
    const double per_conn =
        (static_cast<double>(rss) - static_cast<double>(base)) / static_cast<double>(o.clients);
    std::printf("{\"bench\":\"echo_idle\",\"server\":%s,\"connections\":%zu,\"seconds\":%.3f,"
                "\"base_rss_bytes\":%llu,\"rss_bytes\":%llu,\"max_rss_bytes\":%llu,"
                "\"bytes_per_conn\":%.1f,\"idle_cpu_s\":%.3f,\"valid\":%s}\n",
                json_string(o.label).c_str(), o.clients, seconds,
                static_cast<unsigned long long>(base), static_cast<unsigned long long>(rss),
                static_cast<unsigned long long>(rss_max), per_conn, cpu, valid ? "true" : "false");
    std::fflush(stdout);
    return valid ? 0 : 1;
}

int run(int argc, char** argv) {
    const options o = parse_options(argc, argv);
    const double bytes = static_cast<double>(o.clients) * static_cast<double>(o.size);
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page_size > 0 && bytes > double(pages) * double(page_size) / 2) {
        usage("--clients x --size is more than half of this machine's memory");
    }
    ensure_fd_limit(o.clients);
    const endpoint e = make_endpoint(o);
    if (o.idle) {
        const std::string proc = "/proc/" + std::to_string(o.server_pid) + "/statm";
        if (::access(proc.c_str(), R_OK) != 0) {
            const std::string error = "--server-pid: no process " + std::to_string(o.server_pid) +
                                      " whose " + proc + " this user can read";
            usage(error.c_str());
        }
        return run_idle(o, e);
    }
    return run_ping_pong(o, e);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "%s: out of memory\n", prog);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "%s: %s\n", prog, ex.what());
    }
    return 1;
}
