// SPDX-License-Identifier: MIT
// The three orders a queue keeps its items in (asyncio's Queue, LifoQueue and PriorityQueue
// differ only in _put/_get): first in first out, last in first out, and smallest first.
// Each has push(T&&), pop() -> T (the item leaves the container only once it has been moved
// out, so a throwing move leaves it in place), size() and clear().
#ifndef AIO_DETAIL_QUEUE_ITEMS_HPP_INCLUDED
#define AIO_DETAIL_QUEUE_ITEMS_HPP_INCLUDED

#include <cstddef>
#include <deque>
#include <utility>
#include <vector>

namespace aio::detail {

template <class T>
class fifo_items {
public:
    void push(T&& item) { m_items.push_back(std::move(item)); }
    T pop() {
        T item(std::move(m_items.front()));
        m_items.pop_front();
        return item;
    }
    [[nodiscard]] std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    std::deque<T> m_items;
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
