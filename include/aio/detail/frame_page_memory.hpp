// SPDX-License-Identifier: MIT
// Memory for the frame allocator's pages (frame_heap.hpp): blocks of a power-of-two size,
// aligned to that size, that go back to the system when freed.
//
// Why not aligned operator new: glibc serves a large block with mmap only while the block is
// above its mmap threshold, and freeing such a block raises the threshold to the block's size
// (its "dynamic threshold", up to 32 MiB). After a first burst of tasks, every page would come
// from the heap instead, where freed pages stay resident: each burst would leave more memory
// behind. The standard library cannot ask for memory that is certainly mapped apart, so where
// POSIX mmap exists the pages are mapped and unmapped directly: a page whose frames are all
// freed always goes back. Elsewhere, aligned operator new (and the allocator's own behaviour).
//
// Huge pages: on Linux a 4 KiB page fault costs ~1-12 µs (it depends on the host), and a million
// frames touch 28,000 of them; a region madvise(MADV_HUGEPAGE)d before its first touch is faulted
// 2 MiB at a time, 10-40x cheaper per byte. The heap asks for it only for pages of a size class
// that has outgrown its first page (advise_huge_pages), so a small program's RSS still grows
// 4 KiB at a time. Off with -DAIO_NO_HUGE_PAGES or the environment variable AIO_HUGE_PAGES=0
// (read once); a no-op where MADV_HUGEPAGE does not exist.
#ifndef AIO_DETAIL_FRAME_PAGE_MEMORY_HPP_INCLUDED
#define AIO_DETAIL_FRAME_PAGE_MEMORY_HPP_INCLUDED

#include "sync.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#define AIO_DETAIL_FRAME_PAGES_MMAP 1
#else
#define AIO_DETAIL_FRAME_PAGES_MMAP 0
#endif

#if AIO_DETAIL_FRAME_PAGES_MMAP && defined(MADV_HUGEPAGE) && !defined(AIO_NO_HUGE_PAGES)
#define AIO_DETAIL_FRAME_HUGE_PAGES 1
#else
#define AIO_DETAIL_FRAME_HUGE_PAGES 0
#endif

namespace aio::detail {

#if AIO_DETAIL_FRAME_PAGES_MMAP
inline char* map_frame_memory(std::size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        throw std::bad_alloc();
    }
    return static_cast<char*>(p);
}

/// `size` bytes aligned to `size` (a power of two, a multiple of the system page size).
inline void* allocate_frame_page_memory(std::size_t size) {
    // Usually aligned at once: the kernel places a new mapping right below the previous one.
    char* p = map_frame_memory(size);
    if (reinterpret_cast<std::uintptr_t>(p) % size == 0) {
        return p;
    }
    ::munmap(p, size);
    // Else map twice the size and unmap what lies outside the aligned part.
    char* const base = map_frame_memory(2 * size);
    const std::uintptr_t misalignment = reinterpret_cast<std::uintptr_t>(base) % size;
    char* const aligned = misalignment == 0 ? base : base + (size - misalignment);
    if (aligned != base) {
        ::munmap(base, static_cast<std::size_t>(aligned - base));
    }
    if (aligned + size != base + 2 * size) {
        ::munmap(aligned + size, static_cast<std::size_t>(base + 2 * size - (aligned + size)));
    }
    return aligned;
}
inline void free_frame_page_memory(void* p, std::size_t size) noexcept {
    ::munmap(p, size);
}
#else
inline void* allocate_frame_page_memory(std::size_t size) {
    return ::operator new (size, std::align_val_t{size});
}
inline void free_frame_page_memory(void* p, std::size_t size) noexcept {
    ::operator delete (p, std::align_val_t{size});
}
#endif

inline bool advise_huge_pages_now(void* p, std::size_t size) noexcept {
#if AIO_DETAIL_FRAME_HUGE_PAGES
    return ::madvise(p, size, MADV_HUGEPAGE) == 0;
#else
    (void)p;
    (void)size;
    return false;
#endif
}

/// Milliseconds on a clock that does not go back where POSIX has one (else calendar time): the
/// frame cache's sense of "a while". why not <chrono>: with libstdc++ 12 it brings <sstream>
/// into every header that defines a coroutine (tests/header_cost.cmake).
inline std::int64_t frame_clock_ms() noexcept {
#if defined(CLOCK_MONOTONIC_COARSE)
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // a few ms of resolution, a few ns to read
#elif defined(CLOCK_MONOTONIC)
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
#else
    std::timespec ts{};
    std::timespec_get(&ts, TIME_UTC);
#endif
    return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

/// Whether the value of AIO_HUGE_PAGES (null when unset) allows huge pages: all but "0",
/// "off", "no" and "false".
inline bool huge_pages_allowed_by(const char* env_value) noexcept {
    if (env_value == nullptr) {
        return true;
    }
    for (const char* no : {"0", "off", "no", "false", "OFF", "NO", "FALSE"}) {
        if (std::strcmp(env_value, no) == 0) {
            return false;
        }
    }
    return true;
}

// -1 until the environment is read; tests may set it (set_frame_huge_pages).
inline constinit atomic<int> frame_huge_pages_state{-1};

/// Whether frame pages may be advised to be huge pages: compiled in, and not switched off by
/// AIO_HUGE_PAGES, which is read once (at the first page of a class that outgrew its first page).
inline bool frame_huge_pages_enabled() noexcept {
    int state = frame_huge_pages_state.load(memory_order_relaxed);
    if (state < 0) {
        state = AIO_DETAIL_FRAME_HUGE_PAGES && huge_pages_allowed_by(std::getenv("AIO_HUGE_PAGES"))
                    ? 1
                    : 0;
        frame_huge_pages_state.store(state, memory_order_relaxed);
    }
    return state == 1;
}

/// For tests: switch the advice on or off for pages mapped from now on (on only where compiled
/// in); returns the setting before.
inline bool set_frame_huge_pages(bool on) noexcept {
    const bool before = frame_huge_pages_enabled();
    frame_huge_pages_state.store(on && AIO_DETAIL_FRAME_HUGE_PAGES ? 1 : 0, memory_order_relaxed);
    return before;
}

/// Advises fresh (never touched) memory to be backed by huge pages, if enabled; whether it was.
inline bool advise_huge_pages(void* p, std::size_t size) noexcept {
    return frame_huge_pages_enabled() && advise_huge_pages_now(p, size);
}

}  // namespace aio::detail

#endif
