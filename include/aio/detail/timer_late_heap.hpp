// SPDX-License-Identifier: MIT
// The timer queue's "late" heap (see timer_queue.hpp): a binary min-heap of the timers pushed
// into the current or a past slot, ordered by (deadline, sequence).
//
// Why a heap of its own: the wheel only takes slots after the current one (whose bucket may
// be holding the run), so a timer whose slot has begun comes here. The sequence number keeps
// equal deadlines in push order.
#ifndef AIO_DETAIL_TIMER_LATE_HEAP_HPP_INCLUDED
#define AIO_DETAIL_TIMER_LATE_HEAP_HPP_INCLUDED

#include "timer_node.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aio::detail {

class timer_late_heap {
public:
    struct entry {
        std::int64_t key;   // the deadline in clock ticks
        std::uint64_t seq;  // push order, for ties
        timer_node* node;
    };

    [[nodiscard]] bool empty() const noexcept { return m_heap.empty(); }
    [[nodiscard]] const entry& front() const noexcept { return m_heap.front(); }

    // Adds `node`, due at d, and writes (where, index) into it: `where` is how the queue names
    // this heap. Strong guarantee (but for a skipped sequence number): the node is written
    // only once there is room.
    void push(timer_node& node, std::int64_t d, std::uint32_t where) {
        m_heap.push_back({d, m_seq++, &node});
        node.m_where = where;
        fix(m_heap.size() - 1);
    }
    // Removes entry i (its node's index).
    void erase(std::size_t i) noexcept {
        const entry last = m_heap.back();
        m_heap.pop_back();
        if (i < m_heap.size()) {
            set(i, last);
            fix(i);
        }
    }

    template <class G>
    void for_each(G&& g) const {
        for (const entry& e : m_heap) {
            g(*e.node);
        }
    }

private:
    static bool before(const entry& a, const entry& b) noexcept {
        return a.key < b.key || (a.key == b.key && a.seq < b.seq);
    }
    void set(std::size_t i, const entry& e) noexcept {
        m_heap[i] = e;
        e.node->m_index = static_cast<std::uint32_t>(i);
    }
    // Sifts entry i up, or else down (after moving up it is below its children already).
    void fix(std::size_t i) noexcept {
        const entry e = m_heap[i];
        for (; i > 0 && before(e, m_heap[(i - 1) / 2]); i = (i - 1) / 2) {
            set(i, m_heap[(i - 1) / 2]);
        }
        for (std::size_t c = 2 * i + 1; c < m_heap.size(); i = c, c = 2 * i + 1) {
            c += (c + 1 < m_heap.size() && before(m_heap[c + 1], m_heap[c])) ? 1u : 0u;
            if (!before(m_heap[c], e)) {
                break;
            }
            set(i, m_heap[c]);
        }
        set(i, e);
    }

    std::vector<entry> m_heap;
    std::uint64_t m_seq = 0;  // the next push's
};

} // namespace aio::detail

#endif
