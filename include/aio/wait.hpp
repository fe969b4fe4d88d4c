// SPDX-License-Identifier: MIT
// aio::wait and aio::as_completed: watch a set of running tasks without owning their results
// (asyncio.wait, asyncio.as_completed).
//
//     done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)
//     auto [done, pending] = co_await aio::wait(tasks, aio::return_when::first_completed);
//
//     for t in asyncio.as_completed(tasks):
//         r = await t
//
//     auto order = aio::as_completed(tasks);
//     for (std::size_t i = 0; i < order.size(); ++i) {
//         aio::task_handle<int> t = co_await order.next();
//         int r = t.result();
//     }
//
// Neither cancels anything: when wait() returns (condition met, or timeout), the pending tasks
// keep running; cancelling the waiter only stops the waiting. Both take task handles (created
// tasks), because the tasks must keep running after the wait is over.
//
// Lifetime rules: the handles are copied in (shared); one allocation holds the waiter nodes.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_WAIT_HPP_INCLUDED
#define AIO_WAIT_HPP_INCLUDED

#include "detail/ranges.hpp"
#include "detail/task_watch.hpp"
#include "event_loop.hpp"
#include "task_handle.hpp"

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aio {

enum class return_when { first_completed, first_exception, all_completed };

template <class T>
struct wait_result {
    std::vector<task_handle<T>> done;     // in the order given, not completion order
    std::vector<task_handle<T>> pending;
};

namespace detail {

template <class T>
class [[nodiscard]] wait_awaitable : private cancel_hook, private ready_hook {
public:
    wait_awaitable(std::vector<task_handle<T>> tasks, return_when when,
                   std::optional<clock::duration> timeout)
        : cancel_hook(ops), m_tasks(check_tasks(std::move(tasks), "aio::wait")),
          m_when(when), m_timeout(timeout) {
        m_fn = &on_timeout;
    }
    /// Movable until awaited (so that it can be handed to wait_for, shield or gather).
    wait_awaitable(wait_awaitable&& other)
        : wait_awaitable(std::move(unawaited(other).m_tasks), other.m_when, other.m_timeout) {}
    wait_awaitable& operator=(const wait_awaitable&) = delete;
    ~wait_awaitable() { stop_waiting(); }

    [[nodiscard]] bool await_ready() const noexcept { return satisfied(); }

    // why: one node per task (one allocation) reports completions; a timer (ready_hook, no
    // allocation) ends the wait early; the parent parks as a cancel hook that only stops waiting.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> parent) {
        m_loop = &core_of(get_running_loop());
        m_parent = parent;
        bind(parent);
        if (cancel_pending()) {
            return false;
        }
        m_finished = 0;
        for (const auto& t : m_tasks) {
            check_same_loop(t.root(), m_loop->as_root_owner());  // a task of another loop
            m_finished += t.done() ? 1 : 0;
        }
        m_watch.watch(m_tasks, *this);
        if (m_timeout) {
            m_timer.m_deadline = saturating_deadline(m_loop->time(), *m_timeout);
            m_timer.m_target = make_ready_item(static_cast<ready_hook*>(this), ready_kind::hook);
            m_loop->add_timer(m_timer);
        }
        arm();
        return true;
    }

    wait_result<T> await_resume() {
        stop_waiting();
        if (take_cancel()) {
            throw cancelled_error{};
        }
        wait_result<T> result;
        for (auto& t : m_tasks) {
            (t.done() ? result.done : result.pending).push_back(std::move(t));
        }
        return result;
    }

    // why counters: re-scanning every task on each completion made waiting on n tasks O(n^2).
    std::coroutine_handle<> on_done(std::size_t index) {
        ++m_finished;
        const task_root& root = m_tasks[index].root();
        const bool failed = root.failed() && !root.cancelled();
        const bool met = m_when == return_when::first_completed ||
                         (m_when == return_when::first_exception && failed) ||
                         m_finished == m_tasks.size();
        if (m_woken || !met) {
            return nullptr;
        }
        m_woken = true;
        return m_parent;
    }

private:
    static wait_awaitable& unawaited(wait_awaitable& self) {
        if (self.m_loop != nullptr) {
            throw invalid_state_error("aio::wait: cannot be moved once awaited");
        }
        return self;
    }

    [[nodiscard]] bool satisfied() const noexcept {
        std::size_t finished = 0;
        for (const auto& t : m_tasks) {
            if (t.done()) {
                ++finished;
                if (m_when == return_when::first_completed ||
                    (m_when == return_when::first_exception && t.root().failed() &&
                     !t.cancelled())) {
                    return true;
                }
            }
        }
        return finished == m_tasks.size();
    }

    void stop_waiting() noexcept {
        m_watch.unwatch();
        if (m_timer.linked()) {
            m_loop->remove_timer(m_timer);
        }
        disarm();
    }

    bool wake_from_loop() {
        if (m_woken) {
            return false;
        }
        m_woken = true;
        stop_waiting();
        m_loop->schedule(m_parent);
        return true;
    }
    static void on_timeout(ready_hook& hook) {
        (void)static_cast<wait_awaitable&>(hook).wake_from_loop();
    }
    static cancel_outcome on_cancel(cancel_hook& hook) {
        // stopped: the parent's root delivers cancelled_error in await_resume
        return static_cast<wait_awaitable&>(hook).wake_from_loop() ? cancel_outcome::stopped
                                                                   : cancel_outcome::missed;
    }
    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& self = static_cast<const wait_awaitable&>(hook);
        out.what = "aio::wait for " + std::to_string(self.m_tasks.size()) + " tasks (" +
                   std::to_string(self.m_finished) + " done)";
        for (const task_handle<T>& t : self.m_tasks) {
            if (!t.root().done()) {
                out.tasks.push_back(&t.root());
            }
        }
    }
    static constexpr wait_ops ops{&on_cancel, &describe};

    std::vector<task_handle<T>> m_tasks;
    task_watch<wait_awaitable> m_watch;
    return_when m_when;
    std::optional<clock::duration> m_timeout;
    timer_node m_timer;
    loop_core* m_loop = nullptr;
    std::coroutine_handle<> m_parent;
    std::size_t m_finished = 0;
    bool m_woken = false;
};

template <class Range>
using handle_vector_t = std::vector<detail::range_value_t<Range>>;

} // namespace detail

/// Waits until `when` holds for `tasks` (asyncio.wait); yields {done, pending}. Cancels nothing.
template <detail::input_range Range>
[[nodiscard]] auto wait(Range&& tasks, return_when when = return_when::all_completed) {
    using handle = detail::range_value_t<Range>;
    return detail::wait_awaitable<typename handle::value_type>(
        detail::handle_vector_t<Range>(std::ranges::begin(tasks), std::ranges::end(tasks)), when,
        std::nullopt);
}

/// As above, but returns after `timeout` at the latest (pending tasks keep running).
template <detail::input_range Range, class Rep, class Period>
[[nodiscard]] auto wait(Range&& tasks, std::chrono::duration<Rep, Period> timeout,
                        return_when when = return_when::all_completed) {
    using handle = detail::range_value_t<Range>;
    return detail::wait_awaitable<typename handle::value_type>(
        detail::handle_vector_t<Range>(std::ranges::begin(tasks), std::ranges::end(tasks)), when,
        detail::to_clock_duration(timeout));
}

/// Yields the given tasks in the order they finish (asyncio.as_completed): `co_await next()`
/// size() times. Cancels nothing. One task at a time may await next(): a second one awaiting
/// while the first has not resumed yet gets invalid_state_error (the first is unaffected).
template <class T>
class as_completed {
public:
    template <detail::input_range Range>
    explicit as_completed(Range&& tasks)
        : m_tasks(detail::check_tasks(
              std::vector<task_handle<T>>(std::ranges::begin(tasks), std::ranges::end(tasks)),
              "aio::as_completed")) {
        m_order.reserve(m_tasks.size());
        for (std::size_t i = 0; i < m_tasks.size(); ++i) {
            if (m_tasks[i].done()) {
                m_order.push_back(i);
            }
        }
        m_watch.watch(m_tasks, *this);
    }
    as_completed(const as_completed&) = delete;
    as_completed& operator=(const as_completed&) = delete;

    [[nodiscard]] std::size_t size() const noexcept { return m_tasks.size(); }
    /// How many tasks next() has not handed out yet.
    [[nodiscard]] std::size_t remaining() const noexcept { return m_tasks.size() - m_read; }

    class next_awaiter : private cancel_hook {
    public:
        explicit next_awaiter(as_completed& owner) noexcept
            : cancel_hook(ops), m_owner(owner) {}
        /// Movable until awaited (so that it can be handed to wait_for, shield or gather).
        next_awaiter(next_awaiter&& other) : next_awaiter(unawaited(other).m_owner) {}
        next_awaiter& operator=(const next_awaiter&) = delete;
        ~next_awaiter() { stop(); }

        [[nodiscard]] bool await_ready() const {
            if (m_owner.m_read >= m_owner.m_tasks.size()) {
                throw invalid_state_error("aio::as_completed: every task was already returned");
            }
            if (m_owner.m_waiter != nullptr) {
                throw invalid_state_error(
                    "aio::as_completed: next() is already awaited by another task");
            }
            return m_owner.m_read < m_owner.m_order.size();
        }
        // why: park until the next completion; a cancel of the waiter only stops waiting. The
        // owner knows this awaiter from here until await_resume, so that no second waiter can
        // take the item this one is woken for.
        template <class Promise>
        bool await_suspend(std::coroutine_handle<Promise> waiting) {
            m_loop = &detail::core_of(get_running_loop());
            m_owner.m_watch.check_loop(m_loop->as_root_owner());  // tasks of another loop
            bind(waiting);
            if (cancel_pending()) {
                return false;  // delivered by await_resume
            }
            m_waiting = waiting;
            m_owner.m_waiter = this;
            arm();
            return true;
        }
        task_handle<T> await_resume() {
            stop();
            if (take_cancel()) {
                throw cancelled_error{};
            }
            return m_owner.m_tasks[m_owner.m_order[m_owner.m_read++]];
        }

    private:
        friend class as_completed;

        static next_awaiter& unawaited(next_awaiter& self) {
            if (self.m_loop != nullptr) {
                throw invalid_state_error("aio::as_completed: next() cannot be moved once awaited");
            }
            return self;
        }

        void stop() noexcept {
            if (m_owner.m_waiter == this) {
                m_owner.m_waiter = nullptr;
            }
            disarm();
        }
        static cancel_outcome on_cancel(cancel_hook& hook) {
            auto& self = static_cast<next_awaiter&>(hook);
            if (self.m_waiting) {  // not woken yet: stop waiting (the root delivers the error)
                self.m_loop->schedule(std::exchange(self.m_waiting, nullptr));
                return cancel_outcome::stopped;
            }
            return cancel_outcome::missed;
        }
        static void describe(const cancel_hook& hook, wait_description& out) {
            const auto& self = static_cast<const next_awaiter&>(hook);
            out.what = "aio::as_completed::next (" + std::to_string(self.m_owner.remaining()) +
                       " to come)";
        }
        static constexpr wait_ops ops{&on_cancel, &describe};
        as_completed& m_owner;
        detail::loop_core* m_loop = nullptr;
        std::coroutine_handle<> m_waiting;  // until woken
    };

    /// The next task to finish (or an already finished one not yet handed out).
    [[nodiscard]] next_awaiter next() { return next_awaiter(*this); }

    std::coroutine_handle<> on_done(std::size_t index) {
        m_order.push_back(index);
        return m_waiter != nullptr ? std::exchange(m_waiter->m_waiting, nullptr) : nullptr;
    }

private:
    std::vector<task_handle<T>> m_tasks;
    std::vector<std::size_t> m_order;  // completion order
    std::size_t m_read = 0;
    next_awaiter* m_waiter = nullptr;  // the one co_await next() between suspension and resumption
    detail::task_watch<as_completed> m_watch;
};

template <detail::input_range Range>
as_completed(Range&&) -> as_completed<typename detail::range_value_t<Range>::value_type>;

} // namespace aio

#endif
