// SPDX-License-Identifier: MIT
// aio::suspension and aio::wait_list: how an awaitable parks the current task until something
// wakes it — the awaiter interface that queues, locks, events and user-written awaitables are
// built on. In asyncio terms, a suspension is the Future a Task is blocked on (Task._fut_waiter)
// and a wait_list is the deque of such futures that asyncio.Lock or asyncio.Queue keeps.
//
//     fut = loop.create_future()              aio::suspension m_wait;   // in the awaiter
//     self._waiters.append(fut)               m_wait.park(task); list.push_back(m_wait);
//     await fut                               (the task is suspended)
//     fut.set_result(True)  # elsewhere       m_wait.wake();  // or list.wake_first()
//     except CancelledError: ...              m_wait.resume();  // in await_resume: throws
//                                                               // cancelled_error if cancelled
//
// The three moves:
//  1. park(task) in await_suspend: the task now waits on this suspension. If it already has a
//     cancellation pending, park() returns false: do not suspend (return false from
//     await_suspend); resume() will throw it.
//  2. wake() from whatever the task waits for (on the loop's thread): the task is queued on its
//     loop and resumes on a later iteration — never inside wake(). A second wake() is ignored.
//  3. resume() in await_resume: throws aio::cancelled_error if the task was cancelled while
//     parked, or after it was woken but before it ran (asyncio throws CancelledError into the
//     task in both cases). The awaitable then knows which by woken(): a woken waiter that is
//     cancelled must pass on what it was given (a lock wakes the next waiter), so that nothing
//     is lost.
//
// Cancellation (handle.cancel(), a wait_for's timeout, a failing gather sibling) of a parked
// task: the suspension leaves its wait_list, the optional on_cancel function undoes whatever
// else the wait registered, and the task is queued to resume with cancelled_error. That
// cancellation belongs to this suspension point: uncancel() before the task runs does not take
// it back, as in asyncio, where the cancelled future stays cancelled.
//
// A wait on something that must be told to stop and answers when it has (a remote operation,
// another task) parks with park_passing_cancel(task, pass_on) instead: a cancellation calls
// pass_on and the task stays parked until wake(); the awaitable then decides what it gets
// (cancel_passed() says a cancellation was passed on), as awaiting an asyncio Task does.
//
// The level below, aio::cancel_hook (detail/task_root.hpp, beside the root that holds it): one
// function pointer that a parked task's cancel() calls. A suspension is one; the library's waits
// that resume their task themselves (awaiting a task, gather, wait_for, wait, task_group) derive
// from it directly.
//
// Lifetime rules: a suspension lives in the awaiter, i.e. in the waiting coroutine's frame —
// waiting allocates nothing. If that frame is destroyed while parked (the loop closed), the
// suspension leaves its list and its task. Everything here belongs to the loop's thread; a
// wait_list is bound to the loop of its first waiter (see push_back).
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_SUSPEND_HPP_INCLUDED
#define AIO_SUSPEND_HPP_INCLUDED

#include "errors.hpp"
#include "event_loop.hpp"

#include <coroutine>
#include <cstddef>
#include <cstdint>

namespace aio {

class wait_list;

class suspension : private cancel_hook {
public:
    /// Called when the parked task is cancelled, after the suspension left its wait_list:
    /// undo the rest of the wait (e.g. unregister a callback). Must not resume anything.
    using cancel_fn = void (*)(suspension& self) noexcept;

    // why only m_state is set here: park() fills in the rest, so an awaiter that never waits
    // (a free lock, a queue with an item) pays for one byte, not for a whole wait.
    suspension() noexcept {}
    suspension(const suspension&) = delete;
    suspension& operator=(const suspension&) = delete;
    ~suspension() {
        if (m_state == state::parked) [[unlikely]] {
            abandon();
        }
    }

    /// Parks the task `task` (the coroutine in whose await_suspend this runs) on this
    /// suspension. False when a cancellation is already pending: do not suspend. `what` says
    /// what it waits on, for loop.print_tasks and the trace (a string that outlives the wait,
    /// e.g. a literal: "my_protocol::read").
    template <class Promise>
    [[nodiscard]] bool park(std::coroutine_handle<Promise> task, cancel_fn undo = nullptr,
                            const char* what = nullptr) {
        return park_with(task, stop_ops, undo, what);
    }

    /// Parks like park(), for a wait on something that finishes by itself once asked to stop
    /// (an operation with a cancel call, another task): a cancellation is passed on to it
    /// instead of ending the wait. `pass_on` is called (it asks that thing to stop, and must
    /// not resume anything); the task stays parked until wake(), and resume() throws nothing
    /// for it: cancel_passed() tells the awaitable, which decides what the task gets. That is
    /// asyncio's rule for awaiting a Task: its cancel() cancels the awaited task, and the
    /// awaiter gets whatever that task ends with (a value, if it ignored the request).
    template <class Promise>
    [[nodiscard]] bool park_passing_cancel(std::coroutine_handle<Promise> task, cancel_fn pass_on,
                                           const char* what = nullptr) {
        if (pass_on == nullptr) {
            throw invalid_state_error("aio::suspension::park_passing_cancel: no pass_on function");
        }
        return park_with(task, pass_on_ops, pass_on, what);
    }

    /// Queues the parked task on its loop; it resumes on a later iteration. Does nothing if
    /// the task is not parked here (already woken or cancelled) or its loop has closed.
    void wake() {
        if (m_state != state::parked) {
            return;
        }
        detail::root_owner* const loop = owner();
        leave();
        m_state = state::woken;
        if (loop != nullptr) {
            // why through event_loop::of: the loop is an event_loop (a final class), so this
            // is a direct, inlined push onto its ready queue rather than a virtual call.
            detail::loop_core::of(*loop).schedule(m_task);
        }
    }

    /// In await_resume: throws cancelled_error if the task was cancelled at this suspension
    /// point (parked or woken); see woken() for which.
    void resume() {
        if (m_state == state::idle) {
            return;  // never parked (the awaitable did not suspend): nothing to deliver
        }
        if (m_state == state::parked) {
            leave();
        }
        const bool cancelled = take_cancel();
        if (cancelled || m_state == state::cancelled) {
            if (m_state != state::woken) {
                m_state = state::cancelled;
            }
            throw cancelled_error{};
        }
    }

    /// Parked, and not yet woken or cancelled.
    [[nodiscard]] bool parked() const noexcept { return m_state == state::parked; }
    /// wake() was called (even if the task was then cancelled before it ran).
    [[nodiscard]] bool woken() const noexcept { return m_state == state::woken; }
    /// Cancelled while parked (or before it could park).
    [[nodiscard]] bool cancelled() const noexcept { return m_state == state::cancelled; }
    /// Parked with park_passing_cancel(), a cancellation was passed on (the task stayed parked).
    [[nodiscard]] bool cancel_passed() const noexcept { return m_cancel_passed; }

private:
    friend class wait_list;
    enum class state : std::uint8_t { idle, parked, woken, cancelled };

    template <class Promise>
    bool park_with(std::coroutine_handle<Promise> task, const wait_ops& ops, cancel_fn undo,
                   const char* what) {
        if (m_state == state::parked) {
            throw invalid_state_error("aio::suspension::park: already parked");
        }
        bind(task, ops);
        m_task = task;
        m_undo = undo;
        m_list = nullptr;
        m_cancel_passed = false;
        detail::task_root* const root = bound_root();
        if (root == nullptr) {  // a coroutine type that is not aio's: it cannot be cancelled
            m_loop = detail::core_of(get_running_loop()).as_root_owner();
        } else {
            m_what = what;
            if (cancel_pending()) {
                m_state = state::cancelled;
                return false;
            }
            if (root->m_loop == nullptr) {
                root->m_loop = detail::core_of(get_running_loop()).as_root_owner();
            }
            arm();
        }
        m_state = state::parked;
        return true;
    }

    [[nodiscard]] detail::root_owner* owner() const noexcept {
        return bound_root() != nullptr ? bound_root()->m_loop : m_loop;
    }

    // Leaves the wait_list and the task's root: nothing can reach this suspension afterwards.
    void leave() noexcept;
    // why out of line: the frame is destroyed while parked (rare); a small inline destructor
    // lets awaiters that never park be inlined whole.
    [[gnu::noinline]] void abandon() noexcept { leave(); }

    // Stopped: the root delivers cancelled_error where the task resumes, whatever
    // uncancel() does meanwhile.
    static cancel_outcome on_cancel(cancel_hook& hook) {
        auto& self = static_cast<suspension&>(hook);
        detail::root_owner* const loop = self.owner();
        self.leave();
        self.m_state = state::cancelled;
        if (self.m_undo != nullptr) {
            self.m_undo(self);
        }
        detail::loop_core::of(*loop).schedule(self.m_task);
        return cancel_outcome::stopped;
    }
    // Passed on: the task stays parked (and on its wait_list) until wake().
    static cancel_outcome on_cancel_passed(cancel_hook& hook) {
        auto& self = static_cast<suspension&>(hook);
        self.m_cancel_passed = true;
        self.m_undo(self);
        return cancel_outcome::passed_on;
    }
    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& self = static_cast<const suspension&>(hook);
        out.what = self.m_what != nullptr ? self.m_what : "aio::suspension";
    }
    static constexpr wait_ops stop_ops{&on_cancel, &describe};
    static constexpr wait_ops pass_on_ops{&on_cancel_passed, &describe};

    // Set by park() (see the constructor); m_prev and m_next by wait_list::push_back.
    std::coroutine_handle<> m_task;
    // why one word: only a task with a root is ever described (the dump finds it through the
    // root), and only a task without one needs the loop kept here.
    union {
        detail::root_owner* m_loop;  // for a task that has no root
        const char* m_what;          // for one that has: park()'s description of the wait
    };
    cancel_fn m_undo;
    suspension* m_prev;  // the wait_list links
    suspension* m_next;
    wait_list* m_list;
    state m_state = state::idle;
    bool m_cancel_passed = false;
};

/// A FIFO of parked tasks (the `_waiters` deque of asyncio's locks and queues). Intrusive: the
/// links live in the suspensions. A suspension leaves its list by itself when it is woken,
/// cancelled or destroyed. Destroying a list with tasks on it leaves them parked for good.
class wait_list {
public:
    wait_list() noexcept = default;
    wait_list(const wait_list&) = delete;
    wait_list& operator=(const wait_list&) = delete;
    ~wait_list() {
        while (m_first != nullptr) {
            remove(*m_first);
        }
    }

    [[nodiscard]] bool empty() const noexcept { return m_first == nullptr; }
    [[nodiscard]] std::size_t size() const noexcept { return m_size; }
    /// The longest-waiting task's suspension, or nullptr.
    [[nodiscard]] suspension* front() const noexcept { return m_first; }

    /// Appends a parked suspension. The list is bound to the loop of its first waiter, as
    /// asyncio's primitives are (mixins._LoopBoundMixin): a waiter of another loop gets
    /// aio::event_loop_error and is not parked.
    void push_back(suspension& s) {
        if (!s.parked() || s.m_list != nullptr) {
            throw invalid_state_error("aio::wait_list::push_back: not parked, or already listed");
        }
        detail::root_owner* const loop = s.owner();
        if (m_loop != loop) {  // the slow path only: the first waiter, or a misuse
            if (m_loop != nullptr) {
                s.leave();
                s.m_state = suspension::state::idle;
                throw event_loop_error(
                    "aio: this queue, lock, event, semaphore, condition or barrier is bound to a "
                    "different event loop");
            }
            m_loop = loop;
        }
        s.m_list = this;
        s.m_prev = m_last;
        s.m_next = nullptr;
        (m_last != nullptr ? m_last->m_next : m_first) = &s;
        m_last = &s;
        ++m_size;
    }

    /// Wakes the longest-waiting task; false if there is none.
    bool wake_first() {
        if (m_first == nullptr) {
            return false;
        }
        m_first->wake();  // leaves the list
        return true;
    }
    /// Wakes every task on the list, in order; returns how many.
    std::size_t wake_all() {
        std::size_t n = 0;
        while (wake_first()) {
            ++n;
        }
        return n;
    }

private:
    friend class suspension;

    void remove(suspension& s) noexcept {
        (s.m_prev != nullptr ? s.m_prev->m_next : m_first) = s.m_next;
        (s.m_next != nullptr ? s.m_next->m_prev : m_last) = s.m_prev;
        s.m_prev = s.m_next = nullptr;
        s.m_list = nullptr;
        --m_size;
    }

    suspension* m_first = nullptr;
    suspension* m_last = nullptr;
    std::size_t m_size = 0;
    detail::root_owner* m_loop = nullptr;  // the loop of the first waiter
};

inline void suspension::leave() noexcept {
    if (m_list != nullptr) {
        m_list->remove(*this);
    }
    disarm();
}

}  // namespace aio

#endif
