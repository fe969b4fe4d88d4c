// SPDX-License-Identifier: MIT
// The machinery behind aio::gather: children as independent roots, one counter, one parent.
//
// Every child becomes a root (a plain task is rooted in place; a task handle already is one),
// so each can be cancelled on its own. The gather waits on every child's waiter list and
// counts them down; the last one hands back the parent. Task children are started inline, in
// argument order, inside the parent's await_suspend; when all of them finish before
// await_suspend returns, the parent does not suspend at all (the same "finished inline" rule
// as task_promise.hpp, so no stack growth).
//
// Failure policy (TaskGroup-like, see README): the first child to fail — in completion order —
// has its exception rethrown, after its siblings were cancelled and have all finished. With
// gather_policy::collect nothing is cancelled and every outcome is returned. A gather whose
// parent was cancelled throws cancelled_error instead: the exceptions it can then not deliver
// are reported on stderr (a child finishing afterwards keeps its exception unretrieved, for its
// frame or last handle to report; the first error recorded before is reported here).
#ifndef AIO_DETAIL_GATHER_HPP_INCLUDED
#define AIO_DETAIL_GATHER_HPP_INCLUDED

#include "../errors.hpp"
#include "gather_children.hpp"
#include "handle_awaiter.hpp"
#include "task_promise.hpp"
#include "task_root.hpp"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>

namespace aio::detail {

/// The counter, the parent and the failure policy; the derived awaitable owns the children.
class gather_core : protected cancel_hook {
protected:
    // `ops`: on_cancel below, and the derived awaitable's describe (it knows the children).
    gather_core(gather_policy policy, std::size_t children, void (*cancel_children)(gather_core&),
                const wait_ops& ops) noexcept
        : cancel_hook(ops), m_cancel_children(cancel_children), m_remaining(children),
          m_policy(policy) {}
    /// Moves the bookkeeping of a gather not awaited yet (so that it can be handed to wait_for,
    /// shield or another gather); the derived awaitable moves its children and re-hangs its
    /// waiter nodes. Once co_await has begun, the parent points at the gather: refused.
    gather_core(gather_core&& other, const wait_ops& ops)
        : gather_core(other.m_policy, unawaited(other).m_remaining, other.m_cancel_children, ops) {
        m_first_error = std::move(other.m_first_error);
        m_broken = std::move(other.m_broken);
        m_failed = other.m_failed;
    }
    gather_core& operator=(const gather_core&) = delete;
    ~gather_core() { disarm(); }

    [[nodiscard]] bool all_finished() const noexcept { return m_remaining == 0; }
    /// A failure has made (or will make, once held cancellations are released) the gather
    /// cancel its children.
    [[nodiscard]] bool cancelling_children() const noexcept {
        return (m_failed && m_policy == gather_policy::cancel_on_error) || m_broken != nullptr;
    }
    void set_children(std::size_t n) noexcept { m_remaining = n; }

    /// While held, a failure's "cancel the siblings" waits: the children are still being
    /// gathered (the range constructor) and the rest must be cancelled too.
    void hold_cancellations() noexcept { m_holding = true; }
    void release_cancellations() {
        m_holding = false;
        if (std::exchange(m_cancel_due, false)) {
            m_cancel_children(*this);
        }
    }

    /// await_suspend, first half: who to resume; the children start after this.
    template <class Promise>
    void begin(std::coroutine_handle<Promise> parent) noexcept {
        m_parent = parent;
        bind(parent);
        m_starting = true;
    }
    /// The loop the children run on: the parent's (nullptr outside any loop).
    [[nodiscard]] root_owner* loop() const noexcept {
        return bound_root() != nullptr ? bound_root()->m_loop : nullptr;
    }

    /// An unfinished handle child is watched: it runs on some loop already, which must be the
    /// parent's (see check_same_loop). Noted now, while its frame is in cache; checked by
    /// check_loops() at co_await, before anything starts.
    void note_loop(const task_root& child) noexcept {
        if (child.m_loop == nullptr) {
            m_loops_differ = true;  // detached: its loop is closed
        } else if (m_children_loop == nullptr) {
            m_children_loop = child.m_loop;
        } else if (child.m_loop != m_children_loop) {
            m_loops_differ = true;
        }
    }
    void check_loops(const task_root* parent) const {
        const root_owner* parent_loop = parent != nullptr ? parent->m_loop : nullptr;
        if (m_loops_differ || (parent_loop != nullptr && m_children_loop != nullptr &&
                               m_children_loop != parent_loop)) {
            refuse_other_loop(m_children_loop == nullptr);
        }
    }

    /// The parent gets cancelled_error whatever the children do: a child finishing now keeps
    /// its exception unretrieved (reported when its frame or last handle goes).
    [[nodiscard]] bool parent_cancelled() const noexcept { return m_cancelled; }
    /// A child failed already: only the first failure is rethrown, so a later one is not
    /// taken; its task reports it as never retrieved unless a handle reads it.
    [[nodiscard]] bool failed_already() const noexcept { return m_failed; }

    /// A cancellation that reached the parent before the gather began cancels the children.
    void cancel_if_parent_cancelled() {
        if (take_cancel()) {
            m_cancelled = true;
            m_cancel_children(*this);
        }
    }

    /// await_suspend, second half: true when the parent must suspend (a child still runs).
    bool end_start() {
        m_starting = false;
        if (m_remaining == 0) {
            return false;
        }
        // A child's first step may have cancelled the parent; no hook was parked yet, so the
        // request is pending: pass it on to the children now.
        cancel_if_parent_cancelled();
        arm();
        return true;
    }

    /// A child finished; `error` is what it failed with, if it did (under cancel_on_error).
    /// Returns the parent to resume when this was the last child and the parent is parked.
    std::coroutine_handle<> child_finished(bool failed, std::exception_ptr error) noexcept {
        if (failed) [[unlikely]] {
            child_failed(std::move(error));
        }
        if (--m_remaining != 0 || m_starting || !m_parent) {
            return nullptr;  // more to come, or await_suspend (if it ran yet) sees remaining == 0
        }
        disarm();
        return m_parent;
    }

    // why out of line: a child's completion is the gather's hot path, and failing is rare.
    [[gnu::noinline]] void child_failed(std::exception_ptr error) noexcept {
        if (!m_failed) {
            m_failed = true;
            m_first_error = std::move(error);
            if (m_policy == gather_policy::cancel_on_error) {
                cancel_children();
            }
        }
    }

    /// Makes the gather fail as a whole (a result could not be stored): always rethrown.
    void fail(std::exception_ptr error) noexcept {
        if (!m_broken) {
            m_broken = std::move(error);
            cancel_children();
        }
    }

    /// Throws what the gather as a whole ended with (cancellation first, then the first error).
    void rethrow_if_failed() {
        disarm();
        if (take_cancel()) {
            m_cancelled = true;
        }
        if (m_cancelled) {
            if (m_first_error) {
                report_unretrieved(m_first_error);  // it was retrieved, but cannot be delivered
            }
            throw cancelled_error{};
        }
        if (m_broken) {
            std::rethrow_exception(m_broken);
        }
        if (m_failed && m_policy == gather_policy::cancel_on_error) {
            std::rethrow_exception(m_first_error);
        }
    }

    static void cancel_root(task_root& child) noexcept {
        if (!child.done()) {
            (void)child.request_cancel();
        }
    }

private:
    static gather_core& unawaited(gather_core& core) {
        if (core.m_parent) {
            throw invalid_state_error("aio::gather: cannot be moved once awaited");
        }
        return core;
    }

    void cancel_children() noexcept {
        if (m_holding) {
            m_cancel_due = true;
        } else {
            m_cancel_children(*this);
        }
    }

protected:
    static cancel_outcome on_cancel(cancel_hook& hook) {
        auto& core = static_cast<gather_core&>(hook);
        core.m_cancelled = true;
        core.m_cancel_children(core);
        return cancel_outcome::passed_on;  // resumes the parent once all children finished
    }
    /// The text of a gather's wait_description; the derived awaitable adds its pending children.
    [[nodiscard]] std::string describe_text(std::size_t children) const {
        return "gather of " + std::to_string(children) + " (" + std::to_string(m_remaining) +
               " pending)";
    }

private:
    void (*m_cancel_children)(gather_core&);
    std::coroutine_handle<> m_parent;
    std::exception_ptr m_first_error;
    std::exception_ptr m_broken;
    std::size_t m_remaining;
    root_owner* m_children_loop = nullptr;  // the loop of the unfinished handle children
    gather_policy m_policy;
    bool m_loops_differ = false;  // ... or they do not share one (see note_loop)
    bool m_starting = false;
    bool m_failed = false;
    bool m_cancelled = false;
    bool m_holding = false;
    bool m_cancel_due = false;
};

} // namespace aio::detail

#endif
