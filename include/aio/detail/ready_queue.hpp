// SPDX-License-Identifier: MIT
// The loop's ready queue: a FIFO ring buffer of tagged pointers.
//
// An item is a coroutine frame address to resume (the hot path: a woken sleep, a yield), a
// call_soon callback, an intrusive ready_hook, or the first steps of created tasks. All of
// them share one queue so that they run in the order they were scheduled, as asyncio's single
// _ready deque does. Frames and callback nodes are at least 8-byte aligned, which leaves the
// low bits for the tag; pushing and popping allocate nothing once the buffer has grown to the
// working size.
//
// Created tasks are queued as runs: one item "start the tasks in the loop's task list from
// slot s on" followed by a count, which the next create_task extends while nothing else was
// queued in between. A program that creates a million tasks in a row queues two words, not a
// million (the loop's task list already holds them, in creation order).
#ifndef AIO_DETAIL_READY_QUEUE_HPP_INCLUDED
#define AIO_DETAIL_READY_QUEUE_HPP_INCLUDED

#include "owning_ptr.hpp"

#include <cstddef>
#include <cstdint>
#include <utility>

namespace aio::detail {

enum class ready_kind : std::uintptr_t { resume = 0, callback = 1, start_task = 2, hook = 3 };
/// The low bits of an item that hold its ready_kind; the rest is a pointer or, for a start
/// item, a slot number.
inline constexpr int ready_tag_bits = 2;
inline constexpr std::uintptr_t ready_tag_mask = (std::uintptr_t{1} << ready_tag_bits) - 1;

/// A function to run from the queue without allocating: e.g. the timer of a wait_for, which
/// must cancel a task rather than resume a coroutine. Lives inside its owner.
struct ready_hook {
    void (*m_fn)(ready_hook& self) = nullptr;
};

inline std::uintptr_t make_ready_item(const void* p, ready_kind kind) noexcept {
    return reinterpret_cast<std::uintptr_t>(p) | static_cast<std::uintptr_t>(kind);
}
inline ready_kind kind_of(std::uintptr_t item) noexcept {
    return static_cast<ready_kind>(item & ready_tag_mask);
}
inline void* pointer_of(std::uintptr_t item) noexcept {
    return reinterpret_cast<void*>(item & ~ready_tag_mask);
}
/// A run of starts is two items: this one, naming the slot of the run's first task in the
/// loop's task list, then the run's length as a plain number.
inline std::uintptr_t make_start_item(std::size_t first_slot) noexcept {
    return (static_cast<std::uintptr_t>(first_slot) << ready_tag_bits) |
           static_cast<std::uintptr_t>(ready_kind::start_task);
}
inline std::size_t start_slot_of(std::uintptr_t start_item) noexcept {
    return start_item >> ready_tag_bits;
}

class ready_queue {
public:
    [[nodiscard]] bool empty() const noexcept { return m_size == 0; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }

    /// Makes room for `n` more pushes, so that the pushes themselves cannot throw.
    void reserve(std::size_t n) {
        while (m_capacity - m_size < n) {
            grow();
        }
    }

    void push(std::uintptr_t item) {
        if (m_size == m_capacity) {
            grow();
        }
        m_items[(m_head + m_size) & (m_capacity - 1)] = item;
        ++m_size;
        ++m_pushed;
    }
    /// How many items were ever pushed: tells whether anything was queued since a moment.
    [[nodiscard]] std::size_t pushed() const noexcept { return m_pushed; }
    /// A value pushed() never returns: a mark for "no moment".
    static constexpr std::size_t no_mark = 0;

    /// The item `k` places behind the front (k < size()).
    [[nodiscard]] std::uintptr_t peek(std::size_t k) const noexcept {
        return m_items[(m_head + k) & (m_capacity - 1)];
    }
    [[nodiscard]] std::uintptr_t& at(std::size_t k) noexcept {
        return m_items[(m_head + k) & (m_capacity - 1)];
    }
    /// The item `k` places before the back (k < size()).
    [[nodiscard]] std::uintptr_t& from_back(std::size_t k) noexcept {
        return m_items[(m_head + m_size - 1 - k) & (m_capacity - 1)];
    }

    std::uintptr_t pop() noexcept {
        const std::uintptr_t item = m_items[m_head];
        m_head = (m_head + 1) & (m_capacity - 1);
        --m_size;
        return item;
    }

private:
    void grow() {
        const std::size_t capacity = m_capacity == 0 ? 64 : m_capacity * 2;
        auto items = make_owning_for_overwrite<std::uintptr_t>(capacity);
        for (std::size_t i = 0; i < m_size; ++i) {
            items[i] = m_items[(m_head + i) & (m_capacity - 1)];
        }
        m_items = std::move(items);
        m_capacity = capacity;
        m_head = 0;
    }

    owning_ptr<std::uintptr_t[]> m_items;
    std::size_t m_capacity = 0;
    std::size_t m_head = 0;
    std::size_t m_size = 0;
    std::size_t m_pushed = no_mark + 1;  // never no_mark
};

} // namespace aio::detail

#endif
