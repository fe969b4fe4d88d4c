// SPDX-License-Identifier: MIT
// A thread-local page (slab) allocator for coroutine frames.
//
// Every call of a coroutine allocates its frame and a program may hold a million frames at once,
// so a fresh frame should be a pointer bump and a frame of S bytes should cost round_up(S, 16)
// bytes (malloc adds a header and rounds up: a 112-byte frame costs 128). Frames of up to 512
// bytes live in 2 MiB pages of one 16-byte size class each. A page is aligned to its own size and
// starts with its header, so a block finds its page with a mask; blocks are handed out by a bump
// pointer, so the untouched tail of a page costs no RSS. Why 2 MiB: it is the size of a huge
// page, which a class's pages after its first are advised to be (frame_page_memory.hpp): first
// touch of a million frames then costs ~55 huge-page faults instead of ~28,000 small ones.
//
// Each thread has a heap: per class a current page and a list of other pages with free blocks;
// and a cache of empty pages of any class, so that tasks made in waves reuse the memory of the
// last wave instead of faulting it in again. The cache is bounded (64 pages, 128 MiB) and a page
// cached for over a second goes back to the system at the heap's next page event: every burst
// of a million frames gives its memory back once the program moves on.
//
// Cross-thread rules: a frame may be freed on any thread, also after the thread that allocated it
// has exited. The owner's frees take no lock; every other operation is rare and takes one global
// mutex. A foreign free pushes the block on its page's remote list, which the owner collects on
// its allocation slow path. When a thread exits its heap is abandoned: empty pages are freed,
// the others are from then on freed into under the mutex, and the free that empties the last one
// deletes the heap. Frames allocated while a thread exits, after its heap is gone, come from a
// shared orphan heap under the mutex. Under AddressSanitizer all this is off (plain operator
// new/delete), so that use-after-free of a frame is still caught.
#ifndef AIO_DETAIL_FRAME_ALLOCATOR_HPP_INCLUDED
#define AIO_DETAIL_FRAME_ALLOCATOR_HPP_INCLUDED

#include "frame_heap.hpp"
#include "sync.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace aio::detail {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool frame_cache_enabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool frame_cache_enabled = false;
#else
inline constexpr bool frame_cache_enabled = true;
#endif
#else
inline constexpr bool frame_cache_enabled = true;
#endif

// why a constinit pointer in front of the heap: reading a trivially-initialised thread_local is a
// single TLS load, while touching a thread_local with a destructor costs an initialisation-guard
// check on every access. The pointer is read afresh on every call, never cached across anything.
inline constinit thread_local frame_heap* t_frame_heap = nullptr;
inline constinit thread_local bool t_frame_heap_gone = false;

struct frame_heap_owner {
    frame_heap* heap = new frame_heap;
    frame_heap_owner() { t_frame_heap = heap; }
    ~frame_heap_owner() {
        t_frame_heap = nullptr;
        t_frame_heap_gone = true;
        heap->abandon();
    }
};

[[gnu::noinline]] inline void* allocate_frame_slow(std::size_t c) {
    if (!t_frame_heap_gone) {  // this thread's first frame
        thread_local frame_heap_owner owner;
        return owner.heap->allocate(c);
    }
    lock_guard lock(frame_mutex());  // the thread is exiting and its heap is gone
    return orphan_frame_heap.allocate(c);
}

[[gnu::noinline]] inline void free_foreign_frame(frame_page* p, void* block) noexcept {
    frame_heap* heap = p->heap;
    bool heap_done = false;
    {
        lock_guard lock(frame_mutex());
        if (heap->abandoned) {
            heap->push(p, block);
            heap_done = heap->pages == 0 && heap != &orphan_frame_heap;
        } else {
            if (p->remote == nullptr) {
                p->remote_next = std::exchange(heap->remote_pages, p);
            }
            p->remote = ::new (block) frame_block{p->remote};
            heap->remote_pending.store(true, memory_order_relaxed);
        }
    }
    if (heap_done) {
        delete heap;
    }
}

inline void* allocate_frame(std::size_t size) {
    if constexpr (frame_cache_enabled) {
        const std::size_t c = (size - 1) / frame_granularity;  // size 0 wraps: plain new
        if (c < frame_classes) {
            if (frame_heap* heap = t_frame_heap) [[likely]] {
                return heap->allocate(c);
            }
            return allocate_frame_slow(c);
        }
    }
    return ::operator new(size);
}

inline void deallocate_frame(void* p, std::size_t size) noexcept {
    if constexpr (frame_cache_enabled) {
        if ((size - 1) / frame_granularity < frame_classes) {
            auto* page = reinterpret_cast<frame_page*>(reinterpret_cast<std::uintptr_t>(p) &
                                                       ~(frame_page_size - 1));
            frame_heap* heap = t_frame_heap;
            if (page->heap == heap) [[likely]] {
                heap->push(page, p);
            } else {
                free_foreign_frame(page, p);
            }
            return;
        }
    }
    ::operator delete(p);  // why unsized: clang 14 has no sized deallocation by default
}

/// For tests: pages held by this thread's heap (0 before its first frame; cached ones included),
/// those of them in its cache, and pages in the process.
inline std::size_t frame_heap_pages() noexcept {
    const frame_heap* heap = t_frame_heap;
    return heap != nullptr ? heap->pages : 0;
}
inline std::size_t frame_heap_cached_pages() noexcept {
    const frame_heap* heap = t_frame_heap;
    return heap != nullptr ? heap->cached : 0;
}
/// For tests: whether the page of a frame from the pages (not plain new) was advised to be huge.
inline bool frame_page_advised(const void* frame) noexcept {
    return reinterpret_cast<const frame_page*>(reinterpret_cast<std::uintptr_t>(frame) &
                                               ~(frame_page_size - 1))
        ->advised;
}
inline std::size_t frame_pages_alive() noexcept {
    return frame_pages_alive_count.load(memory_order_relaxed);
}

} // namespace aio::detail

#endif
