// SPDX-License-Identifier: MIT
// What aio_delay_bench and its Asio peer share: the command line, the random pauses, the clock
// and resource readings, validation, and the one result line that compare.py parses.
//
// The workload is the seed's (shared/seeds): N tasks, each drawing a pause uniformly from
// [min, max] seconds, sleeping it and returning it; all are gathered. Measured:
//   wall      from before the first task is created until every task has finished
//   overhead  wall - the largest pause (what the library adds on top of the sleeping)
//   cpu       user + sys CPU seconds spent in that interval (getrusage)
//   peak RSS  the process's peak resident set (VmHWM; getrusage ru_maxrss where /proc is
//             missing), in bytes; bytes/task = peak RSS / N
// The result line is one JSON object on one line, starting with `{"bench":"delay"`; the Python
// peer (peers/asyncio_delay.py) prints the same keys.
#ifndef AIO_BENCH_DELAY_COMMON_HPP_INCLUDED
#define AIO_BENCH_DELAY_COMMON_HPP_INCLUDED

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <random>
#include <string>
#include <string_view>

namespace bench {

struct options {
    std::uint64_t task_count = 1'000'000;
    double min_pause = 0.1;
    double max_pause = 1.0;
    std::uint64_t seed = 42;
};

[[noreturn]] inline void usage(const char* argv0, const char* error) {
    std::fprintf(stderr,
                 "%s%s"
                 "usage: %s [--task-count N] [--min-pause S] [--max-pause S] [--seed S]\n"
                 "  N tasks each sleep a pause drawn uniformly from [min, max] seconds; one JSON\n"
                 "  line with wall time, overhead (wall - largest pause), CPU and peak RSS.\n",
                 error != nullptr ? error : "", error != nullptr ? "\n" : "", argv0);
    std::exit(error != nullptr ? 2 : 0);
}

[[noreturn]] inline void bad_value(const char* argv0, std::string_view option, const char* value,
                                   const char* want) {
    const std::string error = std::string(option) + ": '" + value + "' is not " + want;
    usage(argv0, error.c_str());
}

/// Parses the command line; a bad option or value prints a one-line reason and the usage, and
/// exits with status 2 (a benchmark run on wrong input would be a silently wrong number).
inline options parse_options(int argc, char** argv) {
    // why a cap: aio's task list numbers its slots in 32 bits, and no machine here holds more
    constexpr double max_tasks = 4'000'000'000.0;
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(argv[0], nullptr);
        }
        const bool known = arg == "--task-count" || arg == "-n" || arg == "--min-pause" ||
                           arg == "--max-pause" || arg == "--seed";
        if (!known) {
            const std::string error = "unknown option '" + std::string(arg) + "'";
            usage(argv[0], error.c_str());
        }
        if (i + 1 >= argc) {
            const std::string error = std::string(arg) + ": missing value";
            usage(argv[0], error.c_str());
        }
        const char* value = argv[++i];
        char* end = nullptr;
        if (arg == "--seed") {
            // strtoull would take "-1" and wrap it: digits only
            const bool digits = value[0] >= '0' && value[0] <= '9';
            errno = 0;
            o.seed = std::strtoull(value, &end, 10);
            if (!digits || end == value || *end != '\0' || errno == ERANGE) {
                bad_value(argv[0], arg, value, "a whole number from 0 to 2^64 - 1");
            }
            continue;
        }
        const double number = std::strtod(value, &end);  // "1e6" is fine for a task count
        if (end == value || *end != '\0' || !std::isfinite(number)) {
            bad_value(argv[0], arg, value, "a finite number");
        }
        if (arg == "--task-count" || arg == "-n") {
            if (number < 1 || number > max_tasks || number != std::floor(number)) {
                bad_value(argv[0], arg, value, "a whole number from 1 to 4e9");
            }
            o.task_count = static_cast<std::uint64_t>(number);
        } else if (number < 0) {
            bad_value(argv[0], arg, value, "a number of seconds >= 0");
        } else if (arg == "--min-pause") {
            o.min_pause = number;
        } else {
            o.max_pause = number;
        }
    }
    if (o.max_pause < o.min_pause) {
        usage(argv[0], "--max-pause must not be less than --min-pause");
    }
    return o;
}

/// Refuses, with a message and exit status 2, an N whose tasks would not fit in this machine's
/// memory at `bytes_per_task` (a generous estimate): Linux would grant the memory and then
/// kill the process part-way through, which is neither an error message nor a result.
inline void check_fits_in_memory(const char* name, std::uint64_t n, double bytes_per_task) {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page_size = ::sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) {
        return;  // unknown: let it run
    }
    const double have = static_cast<double>(pages) * static_cast<double>(page_size);
    const double need = static_cast<double>(n) * bytes_per_task;
    if (need > have) {
        constexpr double gib = 1024.0 * 1024.0 * 1024.0;
        std::fprintf(stderr,
                     "%s: --task-count %llu needs about %.1f GiB (%.0f bytes a task), but this "
                     "machine has %.1f GiB of memory\n",
                     name, static_cast<unsigned long long>(n), need / gib, bytes_per_task,
                     have / gib);
        std::exit(2);
    }
}

/// Runs a benchmark's body; an exception (say std::bad_alloc for an N the machine cannot hold)
/// becomes a message and exit status 1 instead of std::terminate.
template <class Body>
int run_reporting_errors(const char* name, Body body) {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "%s: out of memory (is --task-count too large for this machine?)\n",
                     name);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", name, e.what());
    }
    return 1;
}

/// The pauses, drawn one per task in creation order (as the seed's delay() calls
/// random.uniform). Same generator and seed in aio and Asio, so both sleep the same pauses.
/// why not std::uniform_real_distribution: libstdc++'s generate_canonical calls logl() on every
/// draw unless the compiler folds it (clang 14 does not: ~200 ns per task, 8% of the profile),
/// which would bill the benchmark's RNG to the library. 53 random bits scaled is uniform too.
class pause_source {
public:
    explicit pause_source(const options& o)
        : m_gen(o.seed), m_min(o.min_pause), m_span(o.max_pause - o.min_pause) {}
    double next() {
        const double unit = static_cast<double>(m_gen() >> 11) * 0x1.0p-53;  // [0, 1)
        return m_min + m_span * unit;
    }

private:
    std::mt19937_64 m_gen;
    double m_min;
    double m_span;
};

inline double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
    return tv(u.ru_utime) + tv(u.ru_stime);
}

/// Peak RSS of this process in bytes: VmHWM from /proc/self/status, else getrusage's ru_maxrss.
/// why VmHWM first: Linux carries ru_maxrss across fork and exec, so a child of a big parent
/// (compare.py, a shell) reports at least the parent's RSS; VmHWM is this address space's own.
inline std::uint64_t peak_rss_bytes() {
    if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        unsigned long long kb = 0;
        bool found = false;
        while (!found && std::fgets(line, sizeof line, f) != nullptr) {
            found = std::sscanf(line, "VmHWM: %llu kB", &kb) == 1;
        }
        std::fclose(f);
        if (found) {
            return kb * 1024u;
        }
    }
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<std::uint64_t>(u.ru_maxrss) * 1024u;  // Linux: kilobytes
}

/// Current RSS (from /proc/self/statm), to show the baseline before the tasks exist.
inline std::uint64_t current_rss_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) {
        return 0;
    }
    unsigned long long size = 0;
    unsigned long long resident = 0;
    const int got = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    return got == 2 ? resident * 4096u : 0;
}

struct result {
    const char* impl = "";
    std::uint64_t n = 0;
    double wall = 0;
    double max_pause = 0;
    double cpu = 0;
    std::uint64_t base_rss = 0;
    std::uint64_t peak_rss = 0;
    bool valid = false;
};

inline void print_result(const result& r) {
    const double n = static_cast<double>(r.n);
    std::printf(
        "{\"bench\":\"delay\",\"impl\":\"%s\",\"n\":%llu,\"wall_s\":%.6f,\"max_pause_s\":%.6f,"
        "\"overhead_s\":%.6f,\"cpu_s\":%.6f,\"cpu_per_task_s\":%.3e,\"peak_rss_bytes\":%llu,"
        "\"bytes_per_task\":%.1f,\"base_rss_bytes\":%llu,\"valid\":%s}\n",
        r.impl, static_cast<unsigned long long>(r.n), r.wall, r.max_pause, r.wall - r.max_pause,
        r.cpu, r.cpu / n, static_cast<unsigned long long>(r.peak_rss),
        static_cast<double>(r.peak_rss) / n, static_cast<unsigned long long>(r.base_rss),
        r.valid ? "true" : "false");
    std::fflush(stdout);
}

} // namespace bench

#endif
