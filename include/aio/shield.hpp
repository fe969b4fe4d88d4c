// SPDX-License-Identifier: MIT
// aio::shield: wait for work without letting a cancellation of the waiter reach it
// (asyncio.shield).
//
//     res = await asyncio.shield(save())     auto res = co_await aio::shield(save());
//
// If the awaiting task is cancelled, it gets cancelled_error at once and stops waiting, while
// the shielded work keeps running to completion on the loop. Its result (or exception) stays
// available through a task_handle if you kept one.
//
// Lifetime rules: a task<T> argument — or any other awaitable, moved into a wrapper task — is
// turned into a created task on the running loop (so it can outlive the waiter); a task_handle
// argument is shared. Nothing is cancelled on the shielded side, by this waiter, ever.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SHIELD_HPP_INCLUDED
#define AIO_SHIELD_HPP_INCLUDED

#include "detail/awaitable_traits.hpp"
#include "detail/handle_awaiter.hpp"
#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <type_traits>
#include <utility>

namespace aio {

namespace detail {
template <class A>
inline constexpr bool is_shield_target = false;  // taken as it is (see the overloads below)
template <class T>
inline constexpr bool is_shield_target<task<T>> = true;
template <class T>
inline constexpr bool is_shield_target<task_handle<T>> = true;

template <class T>
class [[nodiscard]] shielded {
public:
    explicit shielded(task_handle<T> target) : m_target(std::move(target)) {}
    auto operator co_await() const& noexcept {
        return handle_awaiter<T, false, true>(m_target.promise_handle());
    }
    // The result stays shared with every other handle: copied out, moved only if it cannot be.
    auto operator co_await() && noexcept {
        return handle_awaiter<T, !std::is_copy_constructible_v<T>, true>(m_target.promise_handle());
    }
    [[nodiscard]] const task_handle<T>& handle() const noexcept { return m_target; }

private:
    task_handle<T> m_target;
};
} // namespace detail

/// Awaits a running task without propagating the waiter's cancellation to it.
template <class T>
[[nodiscard]] detail::shielded<T> shield(task_handle<T> target) {
    return detail::shielded<T>(std::move(target));
}

/// Starts `work` as a task on the running loop and awaits it shielded.
template <class T>
[[nodiscard]] detail::shielded<T> shield(task<T> work) {
    return detail::shielded<T>(create_task(std::move(work)));
}

/// Starts any other awaitable (a gather, a sleep, a wait_for, ...) as a task on the running
/// loop, inside a small wrapper task that owns it, and awaits it shielded.
template <class A>
    requires(!detail::is_shield_target<std::remove_cvref_t<A>> && detail::awaitable<A>)
[[nodiscard]] auto shield(A&& work) {
    using result = detail::await_result_t<A>;
    return detail::shielded<result>(
        create_task(detail::awaitable_task<std::remove_cvref_t<A>>(std::forward<A>(work))));
}

} // namespace aio

#endif
