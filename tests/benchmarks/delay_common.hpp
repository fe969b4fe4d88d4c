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

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

inline options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage(argv[0], nullptr);
        }
        if (i + 1 >= argc) {
            usage(argv[0], "missing value");
        }
        const char* value = argv[++i];
        char* end = nullptr;
        if (arg == "--task-count" || arg == "-n") {
            // accepts 1e6 too
            o.task_count = static_cast<std::uint64_t>(std::strtod(value, &end));
        } else if (arg == "--min-pause") {
            o.min_pause = std::strtod(value, &end);
        } else if (arg == "--max-pause") {
            o.max_pause = std::strtod(value, &end);
        } else if (arg == "--seed") {
            o.seed = std::strtoull(value, &end, 10);
        } else {
            usage(argv[0], "unknown option");
        }
        if (end == value || *end != '\0') {
            usage(argv[0], "bad number");
        }
    }
    if (o.task_count == 0 || !(o.min_pause >= 0) || !(o.max_pause >= o.min_pause)) {
        usage(argv[0], "need task-count > 0 and 0 <= min-pause <= max-pause");
    }
    return o;
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
