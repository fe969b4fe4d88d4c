// SPDX-License-Identifier: MIT
// Awaiting a task_handle: park on the target's waiter list until it finishes.
//
// Cancelling the waiting task normally cancels the target too (asyncio cancels the future a
// Task is blocked on). A *shielded* wait (aio::shield) instead stops waiting at once and leaves
// the target running.
//
// Refused at the await (check_can_wait): a task awaiting itself, which could never resume
// (asyncio: "Task cannot await on itself"), and an unfinished task of another loop, which would
// resume the waiter on that loop (asyncio: "attached to a different loop") or, for a closed
// loop, never.
#ifndef AIO_DETAIL_HANDLE_AWAITER_HPP_INCLUDED
#define AIO_DETAIL_HANDLE_AWAITER_HPP_INCLUDED

#include "../errors.hpp"
#include "task_promise.hpp"
#include "task_root.hpp"

#include <coroutine>
#include <type_traits>
#include <utility>

namespace aio::detail {

[[noreturn]] inline void refuse_other_loop(bool closed) {
    throw event_loop_error(closed ? "aio: cannot wait for a task whose event loop is closed"
                                  : "aio: cannot wait for a task that runs on another event loop");
}

/// Throws unless a task running on `loop` (nullptr: not known) may wait for `target`; also used
/// by wait_for, wait and as_completed (gather: gather_core::note_loop).
inline void check_same_loop(const task_root& target, const root_owner* loop) {
    if (target.m_loop == loop || target.done() || (loop == nullptr && !target.m_detached)) {
        return;
    }
    refuse_other_loop(target.m_detached);
}

/// Throws unless the chain under `waiter` (nullptr: a coroutine type not aio's) may wait for
/// `target`: not itself, not a task of another loop.
inline void check_can_wait(const task_root& target, const task_root* waiter) {
    if (waiter == &target) {
        throw invalid_state_error("aio: a task cannot await on itself");
    }
    check_same_loop(target, waiter != nullptr ? waiter->m_loop : nullptr);
}

template <class T, bool Move, bool Shielded = false>
class handle_awaiter : private completion_node, private cancel_hook {
public:
    using promise_type = task_promise<T>;

    explicit handle_awaiter(std::coroutine_handle<promise_type> target) noexcept
        : cancel_hook(ops), m_target(target) {
        m_on_complete = &on_complete;
    }
    handle_awaiter(const handle_awaiter&) = delete;
    handle_awaiter& operator=(const handle_awaiter&) = delete;
    ~handle_awaiter() {
        if (m_linked) {
            target().remove_waiter(*this);
        }
        disarm();
    }

    [[nodiscard]] bool await_ready() const {
        if (!m_target) [[unlikely]] {
            throw invalid_state_error("aio::task_handle: awaiting an empty (moved-from) handle");
        }
        return target().done();
    }

    // why: this awaiter is the waiter-list node (no allocation) and the waiting task's cancel
    // hook, so a cancel() of the waiter reaches the target (or, shielded, just stops waiting).
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> waiting) {
        bind(waiting);
        check_can_wait(target(), bound_root());
        if (cancel_pending()) {
            return false;  // delivered by await_resume
        }
        m_waiting = waiting;
        target().add_waiter(*this);
        m_linked = true;
        arm();
        return true;
    }

    decltype(auto) await_resume() {
        disarm();
        if (take_cancel()) {
            throw cancelled_error{};
        }
        if constexpr (Move && !std::is_reference_v<T> && !std::is_void_v<T>) {
            return T(std::move(m_target.promise()).result());
        } else {
            return m_target.promise().result();
        }
    }

private:
    task_root& target() const noexcept { return m_target.promise().m_own; }

    static std::coroutine_handle<> on_complete(completion_node& node, task_root&) noexcept {
        auto& self = static_cast<handle_awaiter&>(node);
        self.m_linked = false;  // also called when the target is destroyed unfinished
        return self.m_waiting;
    }

    static cancel_outcome on_cancel(cancel_hook& hook) {
        auto& self = static_cast<handle_awaiter&>(hook);
        if constexpr (Shielded) {
            // Stop waiting; the target keeps running. A pending target is a created task, so
            // its owner is the loop, which can queue our resumption.
            if (self.m_linked && self.target().m_registered) {
                task_root& target = self.target();
                target.remove_waiter(self);
                self.m_linked = false;
                target.m_loop->schedule(self.m_waiting);
                return cancel_outcome::stopped;  // the root delivers it in await_resume
            }
            return cancel_outcome::missed;
        } else {
            return self.target().request_cancel() ? cancel_outcome::passed_on
                                                  : cancel_outcome::missed;
        }
    }

    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& self = static_cast<const handle_awaiter&>(hook);
        out.what = (Shielded ? "shielded task " : "task ") + task_name(self.target());
        out.tasks.push_back(&self.target());
    }
    static constexpr wait_ops ops{&on_cancel, &describe};

    std::coroutine_handle<promise_type> m_target;
    std::coroutine_handle<> m_waiting;
    bool m_linked = false;
};

} // namespace aio::detail

#endif
