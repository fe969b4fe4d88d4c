// SPDX-License-Identifier: MIT
// aio::wait_for / aio::wait_until: await something, but give up after a while
// (asyncio.wait_for, asyncio.timeout / timeout_at).
//
//     try:
//         r = await asyncio.wait_for(fetch(), 0.5)
//     except TimeoutError:
//         ...
//
//     try {
//         int r = co_await aio::wait_for(fetch(), 500ms);
//     } catch (const aio::timeout_error&) {
//         ...
//     }
//
// On timeout the inner work is cancelled and has *finished* (its cleanup ran) by the time
// timeout_error is seen. If the inner work swallows the cancellation and returns a value, that
// value is returned. Cancelling the awaiting task cancels the inner work too, and it then
// receives cancelled_error, not timeout_error (an exception the work ends with meanwhile is
// reported on stderr). The work must run on the awaiting task's loop (event_loop_error).
//
// Why no `async with asyncio.timeout(...)` scope: C++ destructors cannot co_await nor turn one
// exception into another, so a scope object could not wait for the cancelled work nor convert
// its cancellation into a timeout_error. Wrapping the work — a task, a task_handle or any
// awaitable — is the shape that keeps both guarantees.
//
// Lifetime rules: like gather, a task<T> argument is owned (and rooted) by the awaitable; a
// task_handle is shared and is cancelled on timeout. The timer node lives in the awaitable.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_WAIT_FOR_HPP_INCLUDED
#define AIO_WAIT_FOR_HPP_INCLUDED

#include "detail/gather.hpp"
#include "event_loop.hpp"

#include <chrono>
#include <coroutine>
#include <utility>

namespace aio {

namespace detail {

template <class Child>
class [[nodiscard]] wait_for_awaitable : private completion_node,
                                         private cancel_hook,
                                         private ready_hook {
public:
    using result_type = typename Child::value_type;

    template <class A>
    wait_for_awaitable(A&& work, clock::time_point deadline, clock::duration delay, bool relative)
        : cancel_hook(ops), m_child(std::forward<A>(work)), m_delay(delay),
          m_relative(relative) {
        m_timer.m_deadline = deadline;
        m_on_complete = &on_complete;
        m_fn = &on_timeout;
    }
    /// Movable until awaited (so that it can be handed to another wait_for, shield or gather).
    wait_for_awaitable(wait_for_awaitable&& other)
        : wait_for_awaitable(std::move(unawaited(other).m_child), other.m_timer.m_deadline,
                             other.m_delay, other.m_relative) {}
    wait_for_awaitable& operator=(const wait_for_awaitable&) = delete;
    ~wait_for_awaitable() {
        stop_timer();
        if (m_linked) {
            m_child.root().remove_waiter(*this);
        }
        disarm();
    }

    [[nodiscard]] bool await_ready() const noexcept { return false; }

    // why: root the work, wait on it like a one-child gather, and arm a timer whose expiry
    // cancels the work (the timer is a ready_hook: no allocation). The parent suspends only
    // if the work is still running after its first step.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        m_loop = &core_of(get_running_loop());
        m_parent = parent;
        bind(parent);
        m_child.prepare(m_loop->as_root_owner());
        task_root& child = m_child.root();
        check_same_loop(child, m_loop->as_root_owner());  // a handle of another loop
        if (child.done()) {
            return false;
        }
        if (take_cancel()) {
            m_outer_cancelled = true;
            (void)child.request_cancel();
        }
        child.add_waiter(*this);
        m_linked = true;
        if (m_relative) {
            m_timer.m_deadline = saturating_deadline(m_loop->time(), m_delay);
        }
        m_timer.m_target = make_ready_item(static_cast<ready_hook*>(this), ready_kind::hook);
        m_loop->add_timer(m_timer);
        m_starting = true;
        m_child.start();
        m_starting = false;
        if (!m_linked) {
            stop_timer();
            return false;
        }
        // The work's first step may have cancelled the parent while no hook was parked.
        if (take_cancel()) {
            m_outer_cancelled = true;
            (void)child.request_cancel();
        }
        arm();
        return true;
    }

    result_type await_resume() {
        stop_timer();
        disarm();
        if (take_cancel()) {
            m_outer_cancelled = true;
        }
        task_root& child = m_child.root();
        if (m_outer_cancelled) {
            // The work's exception, if it failed, is left unretrieved: its frame (or last
            // handle) reports it, as nobody will see it here.
            throw cancelled_error{};
        }
        if (m_timed_out && child.cancelled()) {
            child.mark_retrieved();
            throw timeout_error{};
        }
        return m_child.take();
    }

private:
    static wait_for_awaitable& unawaited(wait_for_awaitable& self) {
        if (self.m_loop != nullptr) {
            throw invalid_state_error("aio::wait_for: cannot be moved once awaited");
        }
        return self;
    }

    void stop_timer() noexcept {
        if (m_timer.linked()) {
            m_loop->remove_timer(m_timer);
        }
    }

    static std::coroutine_handle<> on_complete(completion_node& node, task_root&) noexcept {
        auto& self = static_cast<wait_for_awaitable&>(node);
        self.m_linked = false;
        self.stop_timer();
        if (self.m_starting) {
            return nullptr;
        }
        self.disarm();
        return self.m_parent;
    }

    static void on_timeout(ready_hook& hook) {
        auto& self = static_cast<wait_for_awaitable&>(hook);
        self.m_timed_out = true;
        (void)self.m_child.root().request_cancel();
    }

    static cancel_outcome on_cancel(cancel_hook& hook) {
        auto& self = static_cast<wait_for_awaitable&>(hook);
        self.m_outer_cancelled = true;
        (void)self.m_child.root().request_cancel();
        return cancel_outcome::passed_on;  // we resume the parent once the work has finished
    }

    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& self = static_cast<const wait_for_awaitable&>(hook);
        out.what = self.m_timed_out ? "wait_for (timed out: waiting for the work to end)"
                                    : "wait_for (the timeout " +
                                          seconds_from(self.m_loop, self.m_timer.m_deadline) + ")";
        out.tasks.push_back(&self.m_child.root());
    }
    static constexpr wait_ops ops{&on_cancel, &describe};

    Child m_child;
    timer_node m_timer;
    clock::duration m_delay;
    loop_core* m_loop = nullptr;
    std::coroutine_handle<> m_parent;
    bool m_relative;
    bool m_linked = false;
    bool m_starting = false;
    bool m_timed_out = false;
    bool m_outer_cancelled = false;
};

template <class A>
using wait_for_t = wait_for_awaitable<gather_child_t<A>>;

} // namespace detail

/// Awaits `work` (a task, task_handle or any awaitable) for at most `timeout`; on expiry the
/// work is cancelled, allowed to finish, and aio::timeout_error is thrown.
template <class A, class Rep, class Period>
    requires detail::gatherable<A>
[[nodiscard]] auto wait_for(A&& work, std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_for_t<A>(std::forward<A>(work), event_loop::time_point{},
                                 detail::to_clock_duration(timeout), true);
}

/// Like wait_for, with an absolute deadline on the loop's clock (asyncio.timeout_at).
template <class A>
    requires detail::gatherable<A>
[[nodiscard]] auto wait_until(A&& work, event_loop::time_point deadline) {
    return detail::wait_for_t<A>(std::forward<A>(work), deadline, {}, false);
}

} // namespace aio

#endif
