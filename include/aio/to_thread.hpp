// SPDX-License-Identifier: MIT
// Threads: blocking work on a thread pool, and coroutines started from other threads.
//
//     await asyncio.to_thread(f, a, b)            co_await aio::to_thread(f, a, b);
//     await loop.run_in_executor(None, f, a)      co_await loop.run_in_executor(nullptr, f, a);
//     pool = ThreadPoolExecutor(max_workers=4)    aio::thread_pool pool(4);
//     await loop.run_in_executor(pool, f)         co_await loop.run_in_executor(&pool, f);
//     await loop.shutdown_default_executor()      co_await loop.shutdown_default_executor();
//     fut = asyncio.run_coroutine_threadsafe(     std::future<int> fut =
//               coro(), loop)  # another thread       aio::run_coroutine_threadsafe(coro(), loop);
//     fut.result()                                fut.get()
//
// to_thread runs f(args...) on the loop's default executor, a thread_pool of asyncio's size
// (min(32, hardware threads + 4) workers, started as jobs arrive) made on first use. f and the
// arguments are copied or moved into the job, as std::thread does (std::ref passes a
// reference). The awaiting task gets f's result or its exception; a move-only result works.
// While the job is in flight the loop counts it as outside work: a loop on virtual time does
// not jump its clock past it and does not report a deadlock while it runs.
//
// Cancelling the awaiting task resumes it at once with aio::cancelled_error. A job that has
// not started yet is withdrawn and f never runs; a running f runs to its end on its thread and
// its result is dropped (asyncio: the concurrent future is cancelled, or its result ignored).
//
// run_in_executor is the same on an explicit pool (nullptr: the default one). Unlike to_thread
// (a lazy task, as Python's coroutine) it submits the job at once, as asyncio's does, and
// returns an awaitable future; awaiting it twice is invalid_state_error.
//
// run_coroutine_threadsafe is for other threads: it hands a task to a running loop (through
// call_soon_threadsafe) and returns a std::future for its result or exception; a closed loop is
// event_loop_error, and the future gets event_loop_error if the loop closes before the task has
// finished (or aio::cancelled_error if it is cancelled, as aio::run does with leftovers).
// Never wait on such a future on the loop's own thread: the loop could not run the task.
//
// Lifetime rules: aio::run (asyncio.run) shuts the default executor down before it closes
// its loop; close() (and the destructor) waits for the default executor's jobs, blocking. An
// explicit pool belongs to you and may outlive the loop: a job that finishes after the loop
// has closed drops its result and never touches the loop.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_TO_THREAD_HPP_INCLUDED
#define AIO_TO_THREAD_HPP_INCLUDED

#include "detail/executor_call.hpp"
#include "detail/thread_pool.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "suspend.hpp"
#include "task.hpp"

#include <coroutine>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace aio {

/// A bounded pool of worker threads (concurrent.futures.ThreadPoolExecutor): `thread_pool
/// pool(4)`, `pool.shutdown()`. See detail/thread_pool.hpp.
using thread_pool = detail::thread_pool;

/// What loop.run_in_executor returns: awaiting it gives f's result or rethrows its exception
/// (asyncio's wrapped concurrent future). Movable until awaited; awaited once.
template <class R>
class [[nodiscard]] executor_future : private suspension {
public:
    explicit executor_future(std::shared_ptr<detail::executor_call<R>> call) noexcept
        : m_call(std::move(call)) {}
    executor_future(executor_future&& other) noexcept : m_call(std::move(other.m_call)) {}
    executor_future& operator=(executor_future&&) = delete;
    ~executor_future() {
        if (m_call != nullptr && m_call->m_waiter == this) {
            m_call->m_waiter = nullptr;
        }
    }

    bool await_ready() const noexcept { return m_call == nullptr || m_call->delivered(); }

    // why: park the task until the job's completion arrives on the loop (it calls wake());
    // cancelling it withdraws the job if it has not started (on_cancel).
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        if (!park(task, &on_cancel, "a job on another thread")) {
            return false;  // a cancellation is pending: await_resume throws it
        }
        m_call->m_waiter = this;
        return true;
    }

    R await_resume() {
        if (m_call == nullptr) {
            throw invalid_state_error("aio::executor_future: already awaited, or moved from");
        }
        const std::shared_ptr<detail::executor_call<R>> call = std::move(m_call);
        call->m_waiter = nullptr;
        resume();  // aio::cancelled_error if the task was cancelled while it waited
        return call->take();
    }

private:
    static void on_cancel(suspension& self) noexcept {
        detail::executor_call<R>& call = *static_cast<executor_future&>(self).m_call;
        call.m_waiter = nullptr;
        call.withdraw();  // a running job runs on; its result is dropped
    }

    std::shared_ptr<detail::executor_call<R>> m_call;
};

template <class F, class... Args>
auto event_loop::run_in_executor(detail::thread_pool* executor, F&& f, Args&&... args) {
    using R = detail::executor_result_t<F, Args...>;
    static_assert(!std::is_reference_v<R>,
                  "aio::to_thread / run_in_executor: the function returns a reference, which "
                  "would refer to what another thread owns; return a value (or a pointer)");
    check_open("run_in_executor");
    detail::loop_executor& service = detail::loop_executor::of(*this);
    if (executor == nullptr) {
        if (m_default_executor_shut_down) {
            throw event_loop_error(
                "aio::event_loop::run_in_executor: the default executor has been shut down "
                "(shutdown_default_executor)");
        }
        executor = &service.default_pool();
    }
    auto call = std::make_shared<detail::executor_call<R>>(*this, service.link());
    executor->submit([call, fn = std::decay_t<F>(std::forward<F>(f)),
                      params = std::make_tuple(std::forward<Args>(args)...)]() mutable noexcept {
        detail::executor_call<R>::run(
            std::move(call), [&]() -> R { return std::apply(std::move(fn), std::move(params)); });
    });
    external_begin();  // before the completion can run: it runs on this thread, later
    return executor_future<R>(std::move(call));
}

inline task<> detail::loop_executor::shutdown_default(event_loop& loop) {
    if (m_pool == nullptr) {
        co_return;
    }
    if (m_joiner == nullptr) {
        m_joiner = std::make_unique<thread_pool>(1);
    }
    // why a thread of its own (as asyncio): joining blocks, and the loop must keep running the
    // completions of the jobs being waited for.
    thread_pool* const pool = m_pool.get();
    auto joined = loop.run_in_executor(m_joiner.get(), [pool] { pool->shutdown(true); });
    co_await joined;
}

/// Runs f(args...) on the running loop's default executor and gives its result
/// (asyncio.to_thread). A lazy task, like Python's coroutine: the job starts when it does.
template <class F, class... Args>
task<detail::executor_result_t<F, Args...>> to_thread(F f, Args... args) {
    auto call = get_running_loop().run_in_executor(nullptr, std::move(f), std::move(args)...);
    co_return co_await call;
}

namespace detail {

// Shared by the caller's thread and the loop: whoever lets it go last settles the future, so
// it never ends as a broken promise.
template <class T>
struct threadsafe_call {
    explicit threadsafe_call(task<T> t) : coro(std::move(t)) {}
    threadsafe_call(const threadsafe_call&) = delete;
    threadsafe_call& operator=(const threadsafe_call&) = delete;
    ~threadsafe_call() {
        if (!settled) {
            promise.set_exception(std::make_exception_ptr(event_loop_error(
                "aio::run_coroutine_threadsafe: the event loop closed before the coroutine "
                "finished")));
        }
    }
    task<T> coro;
    std::promise<T> promise;
    bool settled = false;  // the loop's thread only
};

template <class T>
task<> run_threadsafe(std::shared_ptr<threadsafe_call<T>> call) {
    std::exception_ptr error;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(call->coro);
            call->promise.set_value();
        } else {
            T value = co_await std::move(call->coro);
            call->promise.set_value(std::forward<T>(value));
        }
    } catch (...) {  // cancelled_error too: the future gets it
        error = std::current_exception();
    }
    // why the frame and the promise go at once: the other thread may read the result as soon
    // as the future has it, and the last reference to an exception should be that thread's;
    // an exception_ptr's count lives in the uninstrumented C++ runtime, where
    // ThreadSanitizer cannot see it order the two threads.
    call->coro = task<T>();
    if (error) {
        call->promise.set_exception(std::move(error));
    }
    call->settled = true;
    const std::promise<T> done = std::move(call->promise);
}

}  // namespace detail

/// From any thread: runs `t` as a task on `loop` (which must be running or about to run) and
/// returns a future for its result (asyncio.run_coroutine_threadsafe). Throws event_loop_error
/// if the loop is closed.
template <class T>
std::future<T> run_coroutine_threadsafe(task<T> t, event_loop& loop) {
    auto call = std::make_shared<detail::threadsafe_call<T>>(std::move(t));
    std::future<T> result = call->promise.get_future();
    loop.call_soon_threadsafe([call, &loop] { loop.create_task(detail::run_threadsafe(call)); });
    return result;
}

}  // namespace aio

#endif
