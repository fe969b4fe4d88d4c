// SPDX-License-Identifier: MIT
// aio_floor_bench: what the seed's workload costs before any library is involved — the memory
// floor that bounds how small aio's overhead can be on a given machine.
//
// For N tasks it does only what any implementation must do before the last task sleeps, with
// the same memory per task as aio's 1M run, and nothing else (no coroutines, no loop):
//   create   a 112-byte block per task from 1 MiB chunks (bump allocation, a frame), 64 bytes
//            of it written; its address pushed into two reserved vectors (the program's handles
//            and a task list)
//   watch    one pass in creation order: 16 bytes written into each block, its address pushed
//            into a third reserved vector (a gather's children)
//   start    one pass in creation order: draw the pause, read steady_clock (what a sleep must
//            do to know its deadline), write the deadline into the block, push its address into
//            one of 4096 buckets
// It prints each phase's wall time and the total, in ms; `--no-clock` leaves out the clock
// reads (their share of the total). `--huge-pages` takes the blocks from 2 MiB chunks aligned
// to 2 MiB and madvise(MADV_HUGEPAGE)d, as aio's frame heap does once a size class has grown
// (Linux; elsewhere the flag changes nothing but the chunk size). Compare the total with
// aio_delay_bench's overhead_s.
//
// `--first-touch` measures only what fresh memory costs on this host: 160 MB (a million frames'
// worth) written every 112 bytes right after mmap, in 4 KiB pages and madvise(MADV_HUGEPAGE)d,
// three times each, alternating; one JSON line with the times in ms (compare.py's header).
//
//     ./aio_floor_bench --task-count 1000000 [--no-clock] [--huge-pages]
//     ./aio_floor_bench --first-touch
#include "delay_common.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <string_view>
#include <vector>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

namespace {

struct block {  // 112 bytes, like delay()'s frame
    void* header[2];
    void* links[2];
    std::uint64_t counts[2];
    double value;
    double pause;
    std::int64_t deadline;
    std::uintptr_t target;
    std::uint64_t where;
    void* context;
    std::uint64_t spare[2];
};
static_assert(sizeof(block) == 112);

using steady = std::chrono::steady_clock;

double ms(steady::time_point a, steady::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// A chunk of `size` bytes aligned to `size`; with `huge`, advised to be backed by huge pages.
unsigned char* new_chunk(std::size_t size, bool huge) {
#if __has_include(<sys/mman.h>)
    if (huge) {
        void* p =
            ::mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::bad_alloc();
        }
        const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(p);
        auto* aligned = reinterpret_cast<unsigned char*>((base + size - 1) & ~(size - 1));
#ifdef MADV_HUGEPAGE
        ::madvise(aligned, size, MADV_HUGEPAGE);
#endif
        return aligned;  // never unmapped: the program ends after one pass
    }
#endif
    return new unsigned char[size];  // never freed, as above
}

#if __has_include(<sys/mman.h>)
// Milliseconds to first-touch `bytes` of fresh memory, written every 112 bytes.
double first_touch_ms(std::size_t bytes, bool huge) {
    constexpr std::size_t huge_page = std::size_t{2} << 20;
    void* p = ::mmap(nullptr, bytes + huge_page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        throw std::bad_alloc();
    }
    const std::uintptr_t base = reinterpret_cast<std::uintptr_t>(p);
    auto* aligned = reinterpret_cast<volatile char*>((base + huge_page - 1) & ~(huge_page - 1));
    const steady::time_point t0 = steady::now();
#ifdef MADV_HUGEPAGE
    if (huge) {
        ::madvise(const_cast<char*>(aligned), bytes, MADV_HUGEPAGE);
    }
#endif
    for (std::size_t i = 0; i < bytes; i += sizeof(block)) {
        aligned[i] = 1;
    }
    const double elapsed = ms(t0, steady::now());
    ::munmap(p, bytes + huge_page);
    return elapsed;
}

int first_touch() {
    constexpr std::size_t bytes = std::size_t{160} * 1000 * 1000;
    double small[3];
    double huge[3];
    for (int i = 0; i < 3; ++i) {
        small[i] = first_touch_ms(bytes, false);
        huge[i] = first_touch_ms(bytes, true);
    }
    std::printf("{\"bench\":\"first_touch\",\"mb\":160,\"small_pages_ms\":[%.1f,%.1f,%.1f],"
                "\"huge_pages_ms\":[%.1f,%.1f,%.1f]}\n",
                small[0], small[1], small[2], huge[0], huge[1], huge[2]);
    return 0;
}
#else
int first_touch() {
    std::fprintf(stderr, "aio_floor_bench: --first-touch needs mmap\n");
    return 2;
}
#endif

}  // namespace

static int run(int argc, char** argv) {
    bool clock_reads = true;
    bool huge_pages = false;
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--no-clock") {
            clock_reads = false;
        } else if (std::string_view(argv[i]) == "--huge-pages") {
            huge_pages = true;
        } else if (std::string_view(argv[i]) == "--first-touch") {
            return first_touch();
        } else {
            args.push_back(argv[i]);
        }
    }
    const bench::options opt = bench::parse_options(static_cast<int>(args.size()), args.data());
    bench::check_fits_in_memory("aio_floor_bench", opt.task_count, 160);
    const std::size_t n = static_cast<std::size_t>(opt.task_count);
    bench::pause_source pauses(opt);

    const std::size_t chunk_bytes = std::size_t{1} << (huge_pages ? 21 : 20);
    std::size_t left = 0;
    unsigned char* bump = nullptr;

    const steady::time_point t0 = steady::now();
    std::vector<block*> handles;
    std::vector<block*> task_list;
    handles.reserve(n);
    task_list.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (left < sizeof(block)) {
            bump = new_chunk(chunk_bytes, huge_pages);
            left = chunk_bytes;
        }
        auto* b = reinterpret_cast<block*>(bump);
        bump += sizeof(block);
        left -= sizeof(block);
        std::memset(b, 0, 64);
        b->counts[0] = i;
        task_list.push_back(b);
        handles.push_back(b);
    }
    const steady::time_point t1 = steady::now();
    std::vector<block*> children;
    children.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        block* b = handles[i];
        b->links[0] = &children;
        b->counts[1] = i;
        children.push_back(b);
    }
    const steady::time_point t2 = steady::now();
    std::vector<std::vector<block*>> buckets(4096);
    std::int64_t fake_now = 0;
    for (std::size_t i = 0; i < n; ++i) {
        block* b = task_list[i];
        b->pause = pauses.next();
        const std::int64_t now =
            clock_reads ? steady::now().time_since_epoch().count() : ++fake_now;
        b->deadline = now + static_cast<std::int64_t>(b->pause * 1e9);
        buckets[static_cast<std::size_t>(b->deadline >> 20) & 4095].push_back(b);
        b->where = 1;
    }
    const steady::time_point t3 = steady::now();
    std::printf(
        "{\"bench\":\"floor\",\"n\":%zu,\"clock_reads\":%s,\"huge_pages\":%s,\"create_ms\":%.1f,"
        "\"watch_ms\":%.1f,\"start_ms\":%.1f,\"total_ms\":%.1f}\n",
        n, clock_reads ? "true" : "false", huge_pages ? "true" : "false", ms(t0, t1), ms(t1, t2),
        ms(t2, t3), ms(t0, t3));
    return 0;
}

int main(int argc, char** argv) {
    return bench::run_reporting_errors("aio_floor_bench", [&] { return run(argc, argv); });
}
