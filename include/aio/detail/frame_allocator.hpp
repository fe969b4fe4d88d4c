// SPDX-License-Identifier: MIT
// A thread-local recycling allocator for coroutine frames.
//
// Every call of a coroutine allocates its frame. Most programs create and destroy frames of a
// handful of sizes over and over (a loop awaiting a helper coroutine), so each thread keeps a
// free list per 16-byte size class and reuses blocks instead of going to malloc. Asio does the
// same for its handlers. The cache is bounded, so a burst of a million tasks gives its memory
// back to malloc once the burst is over.
//
// Lifetime rules: a block may be freed on any thread (it joins that thread's cache); each
// thread's cache is released when the thread exits. Under AddressSanitizer the cache is off so
// that use-after-free of a frame is still caught.
#ifndef AIO_DETAIL_FRAME_ALLOCATOR_HPP_INCLUDED
#define AIO_DETAIL_FRAME_ALLOCATOR_HPP_INCLUDED

#include <cstddef>
#include <new>

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

class frame_cache {
public:
    static constexpr std::size_t granularity = 16;
    static constexpr std::size_t classes = 32;          // frames up to 512 bytes are cached
    static constexpr std::size_t max_blocks_per_class = 4096;

    frame_cache() = default;
    frame_cache(const frame_cache&) = delete;
    frame_cache& operator=(const frame_cache&) = delete;
    ~frame_cache() {
        for (auto& list : m_free) {
            while (list.head != nullptr) {
                block* b = list.head;
                list.head = b->next;
                ::operator delete(b);
            }
        }
    }

    void* allocate(std::size_t size) {
        const std::size_t c = class_of(size);
        if (c < classes && m_free[c].head != nullptr) {
            block* b = m_free[c].head;
            m_free[c].head = b->next;
            --m_free[c].count;
            return b;
        }
        return ::operator new(c < classes ? (c + 1) * granularity : size);
    }

    void deallocate(void* p, std::size_t size) noexcept {
        const std::size_t c = class_of(size);
        if (c < classes && m_free[c].count < max_blocks_per_class) {
            auto* b = static_cast<block*>(p);
            b->next = m_free[c].head;
            m_free[c].head = b;
            ++m_free[c].count;
            return;
        }
        ::operator delete(p);
    }

private:
    struct block {
        block* next;
    };
    struct free_list {
        block* head = nullptr;
        std::size_t count = 0;
    };

    static constexpr std::size_t class_of(std::size_t size) noexcept {
        return size == 0 ? 0 : (size - 1) / granularity;
    }

    free_list m_free[classes];
};

// why a constinit pointer in front of the cache: reading a trivially-initialised thread_local
// is a single TLS load, while touching a thread_local with a destructor costs an
// initialisation-guard check on every access. The pointer is read afresh on every allocation,
// never cached across a suspension. The owning object (created on a thread's first frame)
// releases the cached blocks when the thread exits.
inline constinit thread_local frame_cache* t_frame_cache = nullptr;

struct frame_cache_owner {
    frame_cache cache;
    frame_cache_owner() noexcept { t_frame_cache = &cache; }
    ~frame_cache_owner() { t_frame_cache = nullptr; }
};

inline frame_cache* this_thread_frame_cache() {
    frame_cache* cache = t_frame_cache;
    if (cache == nullptr) {
        thread_local frame_cache_owner owner;
        cache = t_frame_cache;  // null again only while the thread is exiting
    }
    return cache;
}

inline void* allocate_frame(std::size_t size) {
    if constexpr (frame_cache_enabled) {
        if (frame_cache* cache = this_thread_frame_cache()) {
            return cache->allocate(size);
        }
        return ::operator new(size);
    } else {
        return ::operator new(size);
    }
}

inline void deallocate_frame(void* p, std::size_t size) noexcept {
    if constexpr (frame_cache_enabled) {
        if (frame_cache* cache = t_frame_cache) {  // no cache (thread exiting): plain delete
            cache->deallocate(p, size);
            return;
        }
        ::operator delete(p);
    } else {
        ::operator delete(p);
    }
}

} // namespace aio::detail

#endif
