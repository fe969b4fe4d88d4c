// SPDX-License-Identifier: MIT
// What a range gather keeps per child: the child itself (range_child: one coroutine handle,
// owned by hand) and its result slot (gather_results). Both are sized for a million children:
// 8 bytes a child plus its result, and nothing left to destroy for a child that was let go
// when it finished. Used by detail/gather_range.hpp.
#ifndef AIO_DETAIL_GATHER_RANGE_CHILD_HPP_INCLUDED
#define AIO_DETAIL_GATHER_RANGE_CHILD_HPP_INCLUDED

#include "gather_children.hpp"

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace aio::detail {

/// The results of a range gather, filled in completion order. A default-constructible element
/// goes straight into the std::vector that await_resume returns (made on the first completion,
/// so a gather that is still starting its children does not pay for it); others wait in
/// optionals and are moved into the vector at the end.
template <class R>
class gather_results {
    static constexpr bool direct =
        std::is_default_constructible_v<R> && std::is_nothrow_move_assignable_v<R>;
    using slot = std::conditional_t<direct, R, std::optional<R>>;

public:
    explicit gather_results(std::size_t n) noexcept : m_size(n) {}
    void set(std::size_t i, R&& value) {
        if (m_slots.empty()) {
            m_slots.resize(m_size);
        }
        m_slots[i] = std::move(value);
    }
    std::vector<R> take() {
        if constexpr (direct) {
            if (m_slots.empty()) {
                m_slots.resize(m_size);  // only for void-like results nobody stored (n == 0)
            }
            return std::move(m_slots);
        } else {
            std::vector<R> out;
            out.reserve(m_slots.size());
            for (auto& s : m_slots) {
                out.push_back(std::move(*s));
            }
            return out;
        }
    }

private:
    std::vector<slot> m_slots;
    std::size_t m_size;
};

/// How a range gather holds a child: one coroutine handle, owned by hand, so that a child
/// let go when it finished costs nothing later (no destructor runs over a million slots).
template <class Child>
struct range_child;

template <class T>
struct range_child<gather_task_child<T>> {  // owns the frame
    using handle = std::coroutine_handle<task_promise<T>>;
    template <class E>
    static handle adopt(E&& element) {
        if constexpr (std::is_same_v<std::remove_cvref_t<E>, task<T>>) {
            if (!element.valid()) {
                throw invalid_state_error("aio: empty (moved-from) task");
            }
            return element.release();
        } else {
            return awaitable_task<std::remove_cvref_t<E>>(std::forward<E>(element)).release();
        }
    }
    static void dispose(handle h) noexcept { h.destroy(); }
    static void prepare(handle h, root_owner* loop) noexcept {
        h.promise().make_root(loop).m_refs = 1;  // the gather's reference: see let_go
    }
    static void start(handle h) {
        task_root& r = h.promise().m_own;
        if (r.take_pending_cancel()) {
            (void)r.finish_cancelled_before_start();
        } else {
            h.resume();
        }
    }
};

template <class T>
struct range_child<gather_handle_child<T>> {  // shares the task: holds one reference
    using handle = std::coroutine_handle<task_promise<T>>;
    static handle adopt(const task_handle<T>& h) {
        auto coro = checked(h.promise_handle());
        coro.promise().m_own.add_ref();
        return coro;
    }
    static handle adopt(task_handle<T>&& h) { return checked(gather_handle_child<T>::steal(h)); }
    static void dispose(handle h) noexcept { h.promise().m_own.release(); }
    static void prepare(handle, root_owner*) noexcept {}
    static void start(handle) noexcept {}

private:
    static handle checked(handle h) {
        if (!h) {
            throw invalid_state_error("aio: empty task handle");
        }
        return h;
    }
};

} // namespace aio::detail

#endif
