// SPDX-License-Identifier: MIT
// The loop's timers: a 4-ary min-heap ordered by (deadline, insertion sequence).
//
// Why this shape:
//  - the node lives in the awaiter (inside the sleeping coroutine's frame), so a sleep
//    allocates nothing; the heap holds {deadline, node*} pairs so comparisons stay in the
//    heap's own cache lines and touch a node only to break ties;
//  - the sequence number makes equal deadlines fire in FIFO order, as asyncio's do;
//  - every node knows its heap index, so removal (a cancelled sleep, a destroyed frame) is
//    O(log n) instead of a linear search or a tombstone that outlives the frame;
//  - 4 children per node halves the depth of a binary heap, and the 4 keys share a cache line.
#ifndef AIO_DETAIL_TIMER_QUEUE_HPP_INCLUDED
#define AIO_DETAIL_TIMER_QUEUE_HPP_INCLUDED

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace aio::detail {

using clock = std::chrono::steady_clock;

/// `now + delay`, rounded up to the clock's tick (never early) and saturated at the clock's
/// end (an enormous delay means "forever", not an overflow). NaN is rejected.
template <class Rep, class Period>
clock::time_point saturating_deadline(clock::time_point now, std::chrono::duration<Rep, Period> delay) {
    using wide = std::chrono::duration<long double>;
    const long double seconds = std::chrono::duration_cast<wide>(delay).count();
    if (seconds != seconds) {
        throw std::invalid_argument("aio: a delay must not be NaN");
    }
    if (seconds <= 0) {
        return now;
    }
    const wide room = std::chrono::duration_cast<wide>(clock::time_point::max() - now);
    if (seconds >= room.count()) {
        return clock::time_point::max();
    }
    return now + std::chrono::ceil<clock::duration>(delay);
}

struct timer_node {
    static constexpr std::uint32_t npos = 0xffffffffu;

    clock::time_point m_deadline{};
    std::uint64_t m_seq = 0;
    std::uintptr_t m_target = 0;  // the ready-queue item pushed when the timer fires
    std::uint32_t m_index = npos;

    [[nodiscard]] bool linked() const noexcept { return m_index != npos; }
};

class timer_queue {
public:
    [[nodiscard]] bool empty() const noexcept { return m_heap.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return m_heap.size(); }
    [[nodiscard]] clock::time_point next_deadline() const noexcept {
        return clock::time_point(clock::duration(m_heap.front().key));
    }

    void push(timer_node& node) {
        node.m_seq = m_next_seq++;
        m_heap.push_back({node.m_deadline.time_since_epoch().count(), &node});
        sift_up(m_heap.size() - 1);
    }

    void remove(timer_node& node) noexcept {
        const std::size_t i = node.m_index;
        node.m_index = timer_node::npos;
        const entry last = m_heap.back();
        m_heap.pop_back();
        if (i == m_heap.size()) {
            return;
        }
        m_heap[i] = last;
        if (i > 0 && less(last, m_heap[(i - 1) / arity])) {
            sift_up(i);
        } else {
            sift_down(i);
        }
    }

    /// The earliest timer if its deadline has passed, unlinked; nullptr otherwise.
    timer_node* pop_expired(clock::time_point now) noexcept {
        if (m_heap.empty() || m_heap.front().key > now.time_since_epoch().count()) {
            return nullptr;
        }
        timer_node* node = m_heap.front().node;
        remove(*node);
        return node;
    }

    /// Unlinks every node (the loop is closing) and calls f(node) for each.
    template <class F>
    void clear(F&& f) {
        std::vector<entry> heap;
        heap.swap(m_heap);
        for (const entry& e : heap) {
            e.node->m_index = timer_node::npos;
        }
        for (const entry& e : heap) {
            f(*e.node);
        }
    }

private:
    static constexpr std::size_t arity = 4;
    struct entry {
        std::int64_t key;
        timer_node* node;
    };

    static bool less(const entry& a, const entry& b) noexcept {
        return a.key < b.key || (a.key == b.key && a.node->m_seq < b.node->m_seq);
    }

    void place(std::size_t i, const entry& e) noexcept {
        m_heap[i] = e;
        e.node->m_index = static_cast<std::uint32_t>(i);
    }

    void sift_up(std::size_t i) noexcept {
        const entry moving = m_heap[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / arity;
            if (!less(moving, m_heap[parent])) {
                break;
            }
            place(i, m_heap[parent]);
            i = parent;
        }
        place(i, moving);
    }

    void sift_down(std::size_t i) noexcept {
        const entry moving = m_heap[i];
        const std::size_t n = m_heap.size();
        for (;;) {
            const std::size_t first = i * arity + 1;
            if (first >= n) {
                break;
            }
            const std::size_t last = first + arity < n ? first + arity : n;
            std::size_t best = first;
            for (std::size_t c = first + 1; c < last; ++c) {
                if (less(m_heap[c], m_heap[best])) {
                    best = c;
                }
            }
            if (!less(m_heap[best], moving)) {
                break;
            }
            place(i, m_heap[best]);
            i = best;
        }
        place(i, moving);
    }

    std::vector<entry> m_heap;
    std::uint64_t m_next_seq = 0;
};

} // namespace aio::detail

#endif
