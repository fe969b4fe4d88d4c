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
#ifndef AIO_DETAIL_FRAME_PAGE_MEMORY_HPP_INCLUDED
#define AIO_DETAIL_FRAME_PAGE_MEMORY_HPP_INCLUDED

#include <cstddef>
#include <cstdint>
#include <new>

#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#define AIO_DETAIL_FRAME_PAGES_MMAP 1
#else
#define AIO_DETAIL_FRAME_PAGES_MMAP 0
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

}  // namespace aio::detail

#endif
