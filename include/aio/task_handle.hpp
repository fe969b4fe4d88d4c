// SPDX-License-Identifier: MIT
// aio::task_handle<T>: a shared handle to a task the event loop is running — what
// loop.create_task() / asyncio.create_task() return (an asyncio.Task).
//
//     t = asyncio.create_task(work())        auto t = aio::create_task(work());
//     ...                                    ...
//     value = await t                        int value = co_await t;
//     t.done(); t.result(); t.cancel()       t.done(); t.result(); t.cancel();
//
// Lifetime rules:
//  - handles are cheap to copy and share one task; the loop also keeps the task alive until
//    it finishes, so dropping every handle does not stop or leak it;
//  - any number of coroutines may await the same handle; awaiting a finished task returns at
//    once. `co_await h` yields a reference into the shared result (valid while a handle
//    lives), `co_await std::move(h)` the value itself;
//  - an exception nobody retrieved (by awaiting, result() or exception()) is reported on
//    stderr when the last handle goes away, like asyncio's "exception was never retrieved";
//  - a handle may outlive its loop: once the loop is closed, the unfinished task never runs
//    again, cancel() returns false, and the frame goes with the last handle;
//  - an empty (default-constructed or moved-from) handle refers to no task: every member but
//    valid() and cancel() (false: nothing to cancel) throws invalid_state_error, and so does
//    co_await.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_TASK_HANDLE_HPP_INCLUDED
#define AIO_TASK_HANDLE_HPP_INCLUDED

#include "detail/handle_awaiter.hpp"
#include "errors.hpp"
#include "task.hpp"

#include <coroutine>
#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace aio {

template <class T = void>
class task_handle {
public:
    using promise_type = detail::task_promise<T>;
    using value_type = T;

    task_handle() noexcept = default;
    /// Adopts one reference to an already-rooted task (used by event_loop::create_task).
    explicit task_handle(std::coroutine_handle<promise_type> coro) noexcept : m_coro(coro) {}
    task_handle(const task_handle& other) noexcept : m_coro(other.m_coro) {
        if (m_coro) {
            root().add_ref();
        }
    }
    task_handle(task_handle&& other) noexcept : m_coro(std::exchange(other.m_coro, {})) {}
    task_handle& operator=(task_handle other) noexcept {
        std::swap(m_coro, other.m_coro);
        return *this;
    }
    ~task_handle() {
        if (m_coro) {
            root().drop_ref();
        }
    }

    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(m_coro); }
    [[nodiscard]] bool done() const { return checked("done").done(); }
    [[nodiscard]] bool cancelled() const { return checked("cancelled").cancelled(); }

    /// The task's value; rethrows its exception (cancelled_error if it was cancelled);
    /// invalid_state_error while it is still running.
    decltype(auto) result() const {
        require_done("result");
        return m_coro.promise().result();
    }

    /// The exception the task ended with (nullptr if it returned); cancelled_error is thrown
    /// for a cancelled task and invalid_state_error for an unfinished one, as in asyncio.
    [[nodiscard]] std::exception_ptr exception() const {
        require_done("exception");
        std::exception_ptr error = m_coro.promise().exception();
        if (cancelled()) {
            std::rethrow_exception(error);
        }
        return error;
    }

    /// Requests cancellation: the task receives cancelled_error at its current or next
    /// suspension point, and whatever it is awaiting is cancelled too. False if it is done, its
    /// loop is closed, or the handle is empty.
    bool cancel() noexcept { return m_coro && root().request_cancel(); }
    /// Pending cancellation requests (Task.cancelling()); the count stops at 255.
    [[nodiscard]] unsigned cancelling() const { return checked("cancelling").cancelling(); }
    /// Withdraws one request (Task.uncancel()); returns the remaining count. A wait that
    /// cancel() already interrupted still throws cancelled_error.
    unsigned uncancel() { return checked("uncancel").uncancel(); }

    /// Task.get_name(): the name given (create_task's or set_name's), else "Task-N", N
    /// counting the tasks made on this thread (asyncio counts the process's).
    [[nodiscard]] std::string get_name() const { return detail::task_name(checked("get_name")); }
    /// Task.set_name().
    void set_name(std::string_view name) {
        detail::task_info_table::instance().set(checked("set_name"), name, {});
    }

    auto operator co_await() const& noexcept { return detail::handle_awaiter<T, false>(m_coro); }
    auto operator co_await() && noexcept { return detail::handle_awaiter<T, true>(m_coro); }

    [[nodiscard]] detail::task_root& root() const noexcept { return m_coro.promise().m_own; }
    [[nodiscard]] promise_type& promise() const noexcept { return m_coro.promise(); }
    [[nodiscard]] std::coroutine_handle<promise_type> promise_handle() const noexcept {
        return m_coro;
    }
    /// Gives this handle's reference to the caller, who must drop it (root().drop_ref()) when
    /// done; the handle is left empty (std::unique_ptr::release). A gather uses it to take
    /// over a handle moved into it without touching the count.
    [[nodiscard]] std::coroutine_handle<promise_type> release() && noexcept {
        return std::exchange(m_coro, {});
    }

private:
    detail::task_root& checked(const char* what) const {
        if (!m_coro) [[unlikely]] {
            fail(what, ": empty handle");
        }
        return root();
    }
    void require_done(const char* what) const {
        if (!checked(what).done()) {
            fail(what, ": the task has not finished yet");
        }
    }
    // why [[noreturn]] and out of line: GCC 12 at -O3 otherwise assumes the empty-handle
    // path may continue and reports a bogus -Warray-bounds on the promise access.
    [[noreturn]] static void fail(const char* what, const char* why) {
        throw invalid_state_error(std::string("aio::task_handle::") + what + why);
    }

    std::coroutine_handle<promise_type> m_coro;
};

}  // namespace aio

#endif
