// SPDX-License-Identifier: MIT
// aio::task<T>: a lazy, move-only coroutine — the C++ spelling of a Python coroutine object.
//
//     async def fetch() -> int: ...          aio::task<int> fetch() { ...; co_return 42; }
//     value = await fetch()                  int value = co_await fetch();
//
// Like a Python coroutine object, calling fetch() runs nothing: the body starts when the task
// is awaited, or when it is handed to create_task()/gather()/run(), which schedule it. (Python
// *Tasks* start on their own; a task<T> is the coroutine, not the Task — see task_handle.hpp.)
//
// Lifetime rules:
//  - the task owns its coroutine frame; destroying a task that never ran destroys the frame
//    and the arguments it captured;
//  - a task runs once: `co_await std::move(t)` yields the result by value, `co_await t` a
//    reference into the finished frame (valid while `t` lives); awaiting it again, or handing
//    it to create_task()/gather()/wait_for()/shield() afterwards, throws invalid_state_error
//    (asyncio's "cannot reuse already awaited coroutine");
//  - reference parameters and lambda captures must outlive the task: the frame keeps the
//    reference, not a copy. Pass by value into coroutines unless you know better.
//  - an exception thrown by the body is rethrown to the awaiter.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_TASK_HPP_INCLUDED
#define AIO_TASK_HPP_INCLUDED

#include "detail/task_promise.hpp"

#include <coroutine>
#include <string>
#include <type_traits>
#include <utility>

namespace aio {

template <class T = void>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;

    task() noexcept = default;
    explicit task(std::coroutine_handle<promise_type> coro) noexcept : m_coro(coro) {}
    task(task&& other) noexcept : m_coro(std::exchange(other.m_coro, {})) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            reset();
            m_coro = std::exchange(other.m_coro, {});
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { reset(); }

    /// True when there is nothing left to run: the body finished, or the task is empty.
    [[nodiscard]] bool is_ready() const noexcept { return !m_coro || m_coro.done(); }
    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(m_coro); }

    /// Throws invalid_state_error unless the task holds a coroutine that nobody has started.
    /// Whatever starts or roots a task (co_await, create_task, gather, wait_for) checks this
    /// first, so a finished or running coroutine is never resumed again.
    void check_runnable(const char* who) const { check_runnable(m_coro, who); }

    auto operator co_await() & noexcept { return awaiter<false>{m_coro}; }
    auto operator co_await() && noexcept { return awaiter<true>{m_coro}; }

    /// Gives up ownership of the frame (used by create_task and gather).
    [[nodiscard]] std::coroutine_handle<promise_type> release() noexcept {
        return std::exchange(m_coro, {});
    }
    [[nodiscard]] std::coroutine_handle<promise_type> handle() const noexcept { return m_coro; }

private:
    template <bool Move>
    struct awaiter {
        std::coroutine_handle<promise_type> m_coro;

        [[nodiscard]] bool await_ready() const {
            check_runnable(m_coro, "aio::task: co_await");
            return false;
        }
        // why: run the child right here and keep going if it finishes without suspending —
        // the stack stays flat however many awaits complete synchronously (task_promise.hpp).
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> parent) {
            return detail::start_child(m_coro, m_coro.promise(), parent);
        }
        decltype(auto) await_resume() {
            if constexpr (Move && !std::is_reference_v<T> && !std::is_void_v<T>) {
                // by value: the frame dies with the task
                return T(std::move(m_coro.promise()).result());
            } else {
                return m_coro.promise().result();
            }
        }
    };

    static void check_runnable(std::coroutine_handle<promise_type> coro, const char* who) {
        if (!coro || coro.promise().m_own.taken()) [[unlikely]] {
            not_runnable(coro, who);
        }
    }
    [[noreturn, gnu::noinline]] static void not_runnable(std::coroutine_handle<promise_type> coro,
                                                         const char* who) {
        const char* why = !coro         ? "empty (moved-from) task"
                          : coro.done() ? "cannot reuse already awaited coroutine"
                                        : "coroutine is being awaited already";
        throw invalid_state_error(std::string(who) + ": " + why);
    }

    void reset() noexcept {
        if (m_coro) {
            std::exchange(m_coro, {}).destroy();
        }
    }

    std::coroutine_handle<promise_type> m_coro;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
template <class T>
task<T&> task_promise<T&>::get_return_object() noexcept {
    return task<T&>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
} // namespace detail

} // namespace aio

#endif
