// SPDX-License-Identifier: MIT
// What can be awaited, what awaiting it yields, and how to turn any awaitable into a task —
// so that gather(), wait_for() and friends accept a sleep or a custom awaiter as well as tasks.
#ifndef AIO_DETAIL_AWAITABLE_TRAITS_HPP_INCLUDED
#define AIO_DETAIL_AWAITABLE_TRAITS_HPP_INCLUDED

#include "../task.hpp"

#include <concepts>
#include <coroutine>
#include <type_traits>
#include <utility>

namespace aio::detail {

template <class A>
decltype(auto) get_awaiter(A&& a) {
    if constexpr (requires { std::forward<A>(a).operator co_await(); }) {
        return std::forward<A>(a).operator co_await();
    } else if constexpr (requires { operator co_await(std::forward<A>(a)); }) {
        return operator co_await(std::forward<A>(a));
    } else {
        return std::forward<A>(a);
    }
}

template <class A>
concept awaitable = requires(A&& a) {
    { get_awaiter(std::forward<A>(a)).await_ready() } -> std::convertible_to<bool>;
    get_awaiter(std::forward<A>(a)).await_resume();
};

template <class A>
using await_result_t = decltype(get_awaiter(std::declval<A>()).await_resume());

/// Wraps any (movable) awaitable in a task, so it can be rooted, started and cancelled like
/// one. The awaitable is moved into the frame: no reference to a temporary is kept.
template <class A>
task<await_result_t<A>> awaitable_task(A a) {
    if constexpr (std::is_void_v<await_result_t<A>>) {
        co_await std::move(a);
    } else {
        co_return co_await std::move(a);
    }
}

} // namespace aio::detail

#endif
