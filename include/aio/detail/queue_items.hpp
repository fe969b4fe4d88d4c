// SPDX-License-Identifier: MIT
// The three orders a queue keeps its items in (asyncio's Queue, LifoQueue and PriorityQueue
// differ only in _put/_get): first in first out, last in first out, and smallest first.
// Each has push(T&&), pop() -> T (the item leaves the container only once it has been moved
// out, so a throwing move leaves it in place), size() and clear().
#ifndef AIO_DETAIL_QUEUE_ITEMS_HPP_INCLUDED
#define AIO_DETAIL_QUEUE_ITEMS_HPP_INCLUDED

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

namespace aio::detail {

/// First in, first out: a ring buffer whose capacity is a power of two, grown by doubling.
// why not std::deque: its size() is a computation over its blocks, and it allocates and frees a
// block every few hundred items even when the queue stays short; a ring allocates only while it
// grows to the working size.
template <class T>
class fifo_items {
public:
    fifo_items() noexcept = default;
    fifo_items(const fifo_items&) = delete;
    fifo_items& operator=(const fifo_items&) = delete;
    ~fifo_items() {
        clear();
        slot_allocator().deallocate(m_slots, m_capacity);
    }

    void push(T&& item) {
        if (m_size == m_capacity) {
            grow();
        }
        ::new (static_cast<void*>(m_slots + ((m_head + m_size) & (m_capacity - 1))))
            T(std::move(item));
        ++m_size;
    }
    T pop() {
        T& front = m_slots[m_head];
        T item(std::move(front));
        front.~T();
        m_head = (m_head + 1) & (m_capacity - 1);
        --m_size;
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    void clear() noexcept {
        for (; m_size > 0; --m_size) {
            m_slots[m_head].~T();
            m_head = (m_head + 1) & (m_capacity - 1);
        }
        m_head = 0;
    }

private:
    // The items move to a buffer twice as large (copied instead if T's move may throw and T can
    // be copied, so that a failure leaves the queue as it was).
    [[gnu::noinline]] void grow() {
        const std::size_t capacity = m_capacity == 0 ? 8 : m_capacity * 2;
        slot_allocator alloc;
        T* const slots = alloc.allocate(capacity);
        std::size_t moved = 0;
        try {
            for (; moved < m_size; ++moved) {
                ::new (static_cast<void*>(slots + moved))
                    T(std::move_if_noexcept(m_slots[(m_head + moved) & (m_capacity - 1)]));
            }
        } catch (...) {
            while (moved > 0) {
                slots[--moved].~T();
            }
            alloc.deallocate(slots, capacity);
            throw;
        }
        const std::size_t size = m_size;
        clear();
        alloc.deallocate(m_slots, m_capacity);
        m_slots = slots;
        m_capacity = capacity;
        m_size = size;
    }

    // std::allocator<T>, named through <vector>: <memory> costs ~13k preprocessed lines.
    using slot_allocator = typename std::vector<T>::allocator_type;

    T* m_slots = nullptr;
    std::size_t m_capacity = 0;
    std::size_t m_head = 0;
    std::size_t m_size = 0;
};

template <class T>
class lifo_items {
public:
    void push(T&& item) { m_items.push_back(std::move(item)); }
    T pop() {
        T item(std::move(m_items.back()));
        m_items.pop_back();
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    std::vector<T> m_items;
};

/// A binary min-heap under Compare (heapq's order: the smallest item first). Written out rather
/// than std::push_heap/pop_heap so that <algorithm> stays out of the umbrella header.
template <class T, class Compare>
class heap_items {
public:
    void push(T&& item) {
        m_items.push_back(std::move(item));
        sift_up(m_items.size() - 1);
    }
    T pop() {
        T item(std::move(m_items.front()));
        if (m_items.size() > 1) {
            m_items.front() = std::move(m_items.back());
        }
        m_items.pop_back();
        sift_down(0);
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    void sift_up(std::size_t i) {
        while (i > 0) {
            const std::size_t parent = (i - 1) / 2;
            if (!m_less(m_items[i], m_items[parent])) {
                return;
            }
            std::swap(m_items[i], m_items[parent]);
            i = parent;
        }
    }
    void sift_down(std::size_t i) {
        const std::size_t n = m_items.size();
        for (;;) {
            std::size_t smallest = i;
            for (std::size_t child = 2 * i + 1; child <= 2 * i + 2 && child < n; ++child) {
                if (m_less(m_items[child], m_items[smallest])) {
                    smallest = child;
                }
            }
            if (smallest == i) {
                return;
            }
            std::swap(m_items[i], m_items[smallest]);
            i = smallest;
        }
    }

    std::vector<T> m_items;
    [[no_unique_address]] Compare m_less;
};

}  // namespace aio::detail

#endif
