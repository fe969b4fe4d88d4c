// SPDX-License-Identifier: MIT
// The machinery behind detail/frame_allocator.hpp (read its opening comment first): a 2 MiB
// page of one size class (frame_page) and a thread's set of pages (frame_heap), with the
// bookkeeping that decides when a page becomes current, waits on the list of pages with free
// blocks, waits empty in the heap's cache, or goes back to the system (frame_page_memory.hpp).
#ifndef AIO_DETAIL_FRAME_HEAP_HPP_INCLUDED
#define AIO_DETAIL_FRAME_HEAP_HPP_INCLUDED

#include "frame_page_memory.hpp"
#include "sync.hpp"

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

namespace aio::detail {

inline constexpr std::size_t frame_granularity = 16;
static_assert(frame_granularity % __STDCPP_DEFAULT_NEW_ALIGNMENT__ == 0, "frame alignment");
inline constexpr std::size_t frame_classes = 32;      // frames up to 512 bytes live in pages
inline constexpr std::size_t frame_page_size = std::size_t{1} << 21;  // a huge page on x86-64
// why: a class's first page is faulted in 4 KiB at a time, so a small program's RSS grows with
// what it uses; a class that needs more pages is big, and each page after is one huge page.
inline constexpr std::uint32_t frame_huge_after_pages = 1;
// Empty pages a heap keeps for reuse (128 MiB: a wave of a million 112-byte frames), and for how
// long: a page cached longer goes back at the heap's next page event (see cache_put).
inline constexpr std::size_t frame_cache_max_pages = 64;
inline constexpr std::int64_t frame_cache_decay_ms = 1000;
inline constexpr std::uint32_t frame_no_watch = ~std::uint32_t{0};

struct frame_heap;
struct frame_block {
    frame_block* next;
};

// Why thread-safety holds: `heap` never changes after the page is made, and a heap outlives its
// pages (it is deleted only once abandoned and empty), so `page->heap == this thread's heap` is a
// race-free ownership test and no new heap can reuse the address of one that still owns pages.
// The owner's fields are touched without a lock by the owner only, until it abandons the heap
// under the mutex; from then on only under the mutex. The remote fields are always under it.
struct frame_page {
    frame_block* free = nullptr;  // blocks the owner freed
    char* bump = nullptr;         // first block never handed out; == end once all were
    char* end = nullptr;
    std::uint32_t used = 0;       // handed out and not freed, remote frees counted until collected
    // why: a free has to act only when a non-current page empties (watch 0) or a full one gets a
    // block back (watch used - 1), never on the current page; one compare covers all three.
    std::uint32_t watch = frame_no_watch;
    std::uint32_t cls = 0;
    bool listed = false;          // in the heap's list of non-current pages with free blocks
    bool advised = false;         // madvise(MADV_HUGEPAGE)d before its first touch
    frame_page* prev = nullptr;
    frame_page* next = nullptr;
    frame_heap* heap = nullptr;
    // Guarded by the mutex, on their own cache line so foreign frees do not slow the owner's.
    alignas(64) frame_block* remote = nullptr;  // blocks freed by other threads
    frame_page* remote_next = nullptr;          // in the heap's remote_pages while remote is set
    // The owner's: when the page entered the cache (an empty page gets no remote frees).
    std::int64_t cached_since_ms = 0;
};

inline constexpr std::size_t frame_page_header =
    (sizeof(frame_page) + frame_granularity - 1) / frame_granularity * frame_granularity;

// Every class's current page before its first frame: never has a block, so the fast path needs
// no null check.
inline constinit frame_page empty_frame_page{};
inline constinit atomic<std::size_t> frame_pages_alive_count{0};

// why a union: the mutex is never destroyed, so frees from static destructors can still lock it.
union frame_mutex_holder {
    mutex instance;
    constexpr frame_mutex_holder() noexcept : instance() {}
    ~frame_mutex_holder() {}
};
inline constinit frame_mutex_holder frame_mutex_storage{};
inline mutex& frame_mutex() noexcept { return frame_mutex_storage.instance; }

struct frame_heap {
    frame_page* current[frame_classes];
    frame_page* avail[frame_classes] = {};  // doubly linked through prev/next
    std::uint32_t class_pages[frame_classes] = {};  // pages serving each class, not cached
    frame_page* cache_newest = nullptr;  // empty pages, doubly linked through prev/next
    frame_page* cache_oldest = nullptr;
    std::size_t cached = 0;
    std::size_t pages = 0;  // pages held: serving a class or cached
    bool abandoned;  // no owner thread: every operation is under the mutex
    atomic<bool> remote_pending{false};  // a hint, read without the lock
    frame_page* remote_pages = nullptr;       // guarded by the mutex

    constexpr explicit frame_heap(bool orphan = false) noexcept : abandoned(orphan) {
        for (frame_page*& p : current) {
            p = &empty_frame_page;
        }
    }

    void* allocate(std::size_t c) {
        frame_page* p = current[c];
        if (frame_block* b = p->free) {
            p->free = b->next;
            ++p->used;
            return b;
        }
        if (p->bump != p->end) {
            ++p->used;
            return std::exchange(p->bump, p->bump + (c + 1) * frame_granularity);
        }
        return refill(c);
    }

    void push(frame_page* p, void* block) noexcept {
        p->free = ::new (block) frame_block{p->free};
        if (--p->used == p->watch) [[unlikely]] {
            settle(p);
        }
    }

    // The current page is exhausted: take remote frees, or else make a page with free blocks,
    // a cached page or a new page current. For the orphan heap the caller holds the mutex
    // (remote_pending is never set there).
    // why [[gnu::noinline]] on the slow paths: GCC inlines them into allocate_frame, and their
    // register spills then cost every allocation.
    [[gnu::noinline]] void* refill(std::size_t c) {
        if (remote_pending.load(memory_order_relaxed)) {
            lock_guard lock(frame_mutex());
            collect_remote();
        }
        if (current[c]->free == nullptr) {
            frame_page* p = avail[c];
            if (p != nullptr) {
                unlink(p);
            } else {
                p = new_page(c);
            }
            retire_current(c);
            current[c] = p;
            p->watch = frame_no_watch;
        }
        return allocate(c);
    }

    void retire_current(std::size_t c) noexcept {
        if (frame_page* p = std::exchange(current[c], &empty_frame_page); p != &empty_frame_page) {
            settle(p);
        }
    }

    // p is not current: once empty it goes to the cache (or, abandoned, back to the system);
    // while it has free blocks it is listed; when full it waits, unlisted, for its first block to
    // come back.
    [[gnu::noinline]] void settle(frame_page* p) noexcept {
        if (p->used == 0) {
            if (p->listed) {
                unlink(p);
            }
            --class_pages[p->cls];
            p->watch = frame_no_watch;
            if (abandoned) {
                free_page(p);
            } else {
                cache_put(p);
            }
        } else if (p->free == nullptr && p->bump == p->end) {
            p->watch = p->used - 1;
        } else if (!p->listed) {
            link(p);
        }
    }

    void link(frame_page* p) noexcept {
        frame_page*& head = avail[p->cls];
        p->prev = nullptr;
        p->next = head;
        if (head != nullptr) {
            head->prev = p;
        }
        head = p;
        p->listed = true;
        p->watch = 0;
    }

    void unlink(frame_page* p) noexcept {
        (p->prev != nullptr ? p->prev->next : avail[p->cls]) = p->next;
        if (p->next != nullptr) {
            p->next->prev = p->prev;
        }
        p->listed = false;
    }

    // A page for class c: the most recently cached one (its memory is likely still in the
    // caches and the TLB), else fresh memory, advised to be huge if the class outgrew its first.
    frame_page* new_page(std::size_t c) {
        frame_page* p = cache_take();
        if (p == nullptr) {
            void* memory = allocate_frame_page_memory(frame_page_size);
            const bool advised = class_pages[c] >= frame_huge_after_pages &&
                                 advise_huge_pages(memory, frame_page_size);
            p = ::new (memory) frame_page{};
            p->heap = this;
            p->advised = advised;
            ++pages;
            frame_pages_alive_count.fetch_add(1, memory_order_relaxed);
        }
        const std::size_t block_size = (c + 1) * frame_granularity;
        p->cls = static_cast<std::uint32_t>(c);
        p->free = nullptr;  // a cached page starts over in address order
        p->bump = reinterpret_cast<char*>(p) + frame_page_header;
        p->end = p->bump + (frame_page_size - frame_page_header) / block_size * block_size;
        ++class_pages[c];
        return p;
    }

    // why a cache: a program that frees a million frames and makes a million more (tasks in
    // waves) would otherwise give the pages back and fault them in again, each time. Bounded in
    // size (frame_cache_max_pages) and in time: a page cached longer than frame_cache_decay_ms
    // goes back at the next page event (a page emptied or needed). An idle heap keeps its cache.
    void cache_put(frame_page* p) noexcept {
        const std::int64_t now = frame_clock_ms();
        cache_trim(now);
        p->cached_since_ms = now;
        p->prev = nullptr;
        p->next = cache_newest;
        (cache_newest != nullptr ? cache_newest->prev : cache_oldest) = p;
        cache_newest = p;
        if (++cached > frame_cache_max_pages) {
            cache_drop_oldest();
        }
    }

    frame_page* cache_take() noexcept {
        if (cache_newest != nullptr) {
            cache_trim(frame_clock_ms());
        }
        frame_page* p = cache_newest;
        if (p != nullptr) {
            cache_newest = p->next;
            (cache_newest != nullptr ? cache_newest->prev : cache_oldest) = nullptr;
            --cached;
        }
        return p;
    }

    void cache_trim(std::int64_t now_ms) noexcept {
        while (cache_oldest != nullptr &&
               now_ms - cache_oldest->cached_since_ms > frame_cache_decay_ms) {
            cache_drop_oldest();
        }
    }

    void cache_drop_oldest() noexcept {
        frame_page* p = cache_oldest;
        cache_oldest = p->prev;
        (cache_oldest != nullptr ? cache_oldest->next : cache_newest) = nullptr;
        --cached;
        free_page(p);
    }

    // The pair of new_page(): the page's memory goes back to the system.
    void free_page(frame_page* p) noexcept {
        --pages;
        frame_pages_alive_count.fetch_sub(1, memory_order_relaxed);
        p->~frame_page();
        free_frame_page_memory(p, frame_page_size);
    }

    // Under the mutex: give the blocks other threads freed back to their pages.
    void collect_remote() noexcept {
        remote_pending.store(false, memory_order_relaxed);
        for (frame_page* p = std::exchange(remote_pages, nullptr); p != nullptr;) {
            frame_page* next_page = p->remote_next;
            while (frame_block* b = p->remote) {
                p->remote = b->next;
                b->next = p->free;
                p->free = b;
                --p->used;
            }
            if (p != current[p->cls]) {
                settle(p);
            }
            p = next_page;
        }
    }

    // The owner thread exits. Why no free can race with this: a foreign free and abandon() both
    // run under the mutex. A free before it pushed on a remote list, which is collected here; a
    // free after it sees `abandoned` and frees like the owner would, under the mutex, whose
    // hand-over orders it after all of the owner's lock-free accesses. The pages left (blocks
    // still in use) keep the heap alive; the free that empties the last one deletes it.
    void abandon() noexcept {
        bool empty = false;
        {
            lock_guard lock(frame_mutex());
            collect_remote();
            abandoned = true;
            while (cache_oldest != nullptr) {
                cache_drop_oldest();
            }
            for (std::size_t c = 0; c < frame_classes; ++c) {
                retire_current(c);
            }
            empty = pages == 0;
        }
        if (empty) {
            delete this;
        }
    }
};

// Serves frames allocated on a thread after its heap was destroyed (thread_local destructors),
// under the mutex. Never deleted.
inline constinit frame_heap orphan_frame_heap{true};

} // namespace aio::detail

#endif
