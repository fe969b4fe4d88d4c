// SPDX-License-Identifier: MIT
// task_root: the part of a coroutine that makes it an independently scheduled unit — what
// asyncio calls a Task, as opposed to a coroutine that is merely awaited.
//
// A chain of coroutines awaiting one another (main -> fetch -> parse) runs under one root: the
// outermost coroutine, started by create_task() or by gather(). The root is where cancellation
// is requested and delivered, where other coroutines wait for completion, and where the
// owner (the event loop, for created tasks) is told that the work is finished.
//
// Every task promise embeds a task_root so that creating a task allocates nothing beyond the
// coroutine frame; coroutines that are only awaited leave it unused and point at their parent's.
//
// Lifetime rules: a root is reference counted (handles + the loop while it is pending); the
// frame holding it is destroyed when the count drops to zero. Single-threaded: no atomics.
#ifndef AIO_DETAIL_TASK_ROOT_HPP_INCLUDED
#define AIO_DETAIL_TASK_ROOT_HPP_INCLUDED

#include "../errors.hpp"

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <utility>

namespace aio::detail {

class task_root;

/// How an awaited coroutine stands with the parent that started it (see task_promise.hpp).
enum class await_state : std::uint8_t {
    idle,             // not started by an awaiting parent
    running,          // the parent's await_suspend is running the child right now
    parent_suspended, // the child suspended; the parent is parked until the child finishes
    finished_inline,  // the child finished inside the parent's await_suspend
};

/// Someone waiting for a root to finish: a coroutine awaiting a task handle, or a gather.
/// Intrusive: the node lives in the waiter's own frame, so waiting allocates nothing.
struct completion_node {
    completion_node* m_next = nullptr;
    /// Called once the root has finished; returns a coroutine to resume, or nullptr.
    std::coroutine_handle<> (*m_on_complete)(completion_node& self, task_root& finished) = nullptr;
};

/// The suspension point a root is parked on, so that cancel() can interrupt it: a sleep
/// removes its timer, an awaited task or gather cancels its children.
struct cancel_hook {
    /// Returns true when the interrupted operation will itself resume the task with a
    /// cancelled_error (e.g. an awaited child that is now being cancelled); false when the
    /// root must deliver the cancellation at its next resumption.
    bool (*m_on_cancel)(cancel_hook& self) = nullptr;
};

/// Who owns a scheduled root: the event loop for created tasks.
class root_owner {
public:
    /// Queue a coroutine to run on a later loop iteration.
    virtual void schedule(std::coroutine_handle<> h) = 0;
    /// The root finished or was abandoned: drop the owner's reference.
    virtual void release(task_root& root) noexcept = 0;

protected:
    ~root_owner() = default;
};

class task_root {
public:
    // ---- state -------------------------------------------------------------------------
    [[nodiscard]] bool done() const noexcept { return m_done; }
    [[nodiscard]] bool cancelled() const noexcept { return m_done && m_cancelled; }
    [[nodiscard]] bool failed() const noexcept { return m_done && m_error != nullptr; }
    [[nodiscard]] std::coroutine_handle<> coroutine() const noexcept { return m_coro; }

    // ---- cancellation (Task.cancel / cancelling / uncancel) -------------------------------
    bool request_cancel() noexcept {
        if (m_done) {
            return false;
        }
        if (m_cancel_requests != std::numeric_limits<std::uint16_t>::max()) {
            ++m_cancel_requests;
        }
        // why the guard: two tasks awaiting each other (a deadlock) would otherwise cancel
        // each other through their hooks forever; the inner request just stays pending.
        if (m_hook != nullptr && !m_in_cancel) {
            cancel_hook* hook = m_hook;
            m_in_cancel = true;
            const bool handled = hook->m_on_cancel(*hook);
            m_in_cancel = false;
            if (handled) {
                return true;
            }
        }
        m_must_cancel = true;
        return true;
    }
    [[nodiscard]] unsigned cancelling() const noexcept { return m_cancel_requests; }
    /// Withdraws one request; at zero a cancellation not yet delivered is withdrawn too
    /// (Python 3.13 semantics), so a timeout that was handled does not resurface later.
    unsigned uncancel() noexcept {
        if (m_cancel_requests > 0 && --m_cancel_requests == 0) {
            m_must_cancel = false;
        }
        return m_cancel_requests;
    }
    /// A cancellation requested while nothing could be interrupted is delivered here, at the
    /// next suspension point. Consumes the request (asyncio's _must_cancel).
    [[nodiscard]] bool take_pending_cancel() noexcept {
        const bool pending = m_must_cancel;
        m_must_cancel = false;
        return pending;
    }
    [[nodiscard]] bool cancel_pending() const noexcept { return m_must_cancel; }

    void park(cancel_hook& hook) noexcept { m_hook = &hook; }
    void unpark(cancel_hook& hook) noexcept {
        if (m_hook == &hook) {
            m_hook = nullptr;
        }
    }

    // ---- waiting for completion -----------------------------------------------------------
    void add_waiter(completion_node& node) noexcept {
        node.m_next = m_waiters;
        m_waiters = &node;
    }
    void remove_waiter(completion_node& node) noexcept {
        for (completion_node** p = &m_waiters; *p != nullptr; p = &(*p)->m_next) {
            if (*p == &node) {
                *p = node.m_next;
                return;
            }
        }
    }

    // ---- ownership ------------------------------------------------------------------------
    void add_ref() noexcept { ++m_refs; }
    void release() noexcept {
        if (--m_refs == 0) {
            destroy();
        }
    }
    [[nodiscard]] std::uint32_t ref_count() const noexcept { return m_refs; }

    // ---- results --------------------------------------------------------------------------
    [[nodiscard]] const std::exception_ptr& error() const noexcept { return m_error; }
    void mark_retrieved() noexcept { m_retrieved = true; }

    // The fields below are managed by the promise and the owner; kept public-in-detail for
    // the small set of friends (promise, loop, gather) rather than a web of friend decls.
    //
    // Layout (56 bytes; every coroutine frame carries one, so each byte counts a million times
    // in a program with a million tasks): a coroutine is either a root or merely awaited for
    // its whole life, and the two kinds need different pointers, so they share storage:
    //             root (created task, gather child)     awaited coroutine
    //   slot 1    m_waiters                             m_continuation (the parent's frame)
    //   slot 2    m_hook                                m_parent_root (the parent's root)
    // Every coroutine uses m_error, m_cancelled, m_retrieved and the promise's two fields
    // (m_state, m_has_value). The rest only matters once the coroutine becomes a root, so it
    // is left uninitialised until init_root(): an awaited helper coroutine pays for none of it.
    task_root() noexcept : m_continuation(nullptr), m_parent_root(nullptr) {}
    task_root(const task_root&) = delete;
    task_root& operator=(const task_root&) = delete;

    std::exception_ptr m_error;
    union {
        completion_node* m_waiters;
        void* m_continuation;
    };
    union {
        cancel_hook* m_hook;
        task_root* m_parent_root;
    };
    std::coroutine_handle<> m_coro;
    root_owner* m_owner;
    std::uint32_t m_refs;
    std::uint32_t m_owner_index;     // the owner's bookkeeping slot (loop's task list)
    std::uint16_t m_cancel_requests; // saturates (a count of cancel() calls, see cancelling())
    await_state m_state = await_state::idle;  // the promise's (task_promise.hpp)
    bool m_cancelled = false;
    bool m_done;
    bool m_must_cancel;
    bool m_retrieved : 1 = false;
    bool m_is_root : 1 = false;
    bool m_has_value : 1 = false;  // the promise's: a co_return value was constructed
    bool m_debug : 1;              // report "destroyed but pending" (loop debug mode)
    bool m_in_cancel : 1;          // request_cancel is running this root's hook

    void init_root(std::coroutine_handle<> coro) noexcept {
        m_is_root = true;
        m_done = false;
        m_must_cancel = false;
        m_debug = false;
        m_in_cancel = false;
        m_cancel_requests = 0;
        m_refs = 0;
        m_owner_index = 0;
        m_coro = coro;
        m_owner = nullptr;
        m_waiters = nullptr;
        m_hook = nullptr;
    }

    /// Called by the final awaiter (or by the owner when a task is cancelled before it ever
    /// ran): notify waiters, then let the owner drop its reference. Returns the coroutine
    /// to transfer to, if any.
    std::coroutine_handle<> finish() noexcept {
        m_done = true;
        std::coroutine_handle<> next;
        root_owner* owner = m_owner;
        completion_node* node = m_waiters;
        m_waiters = nullptr;
        add_ref();  // keep this frame alive while waiters look at it
        while (node != nullptr) {
            completion_node* following = node->m_next;  // the callee may reuse its node
            std::coroutine_handle<> h = node->m_on_complete(*node, *this);
            if (h) {
                // why: a created task wakes its waiters on a later loop iteration (as asyncio
                // does), so a chain of tasks awaiting one another never nests resumes; an
                // owner-less root (a gather child) has one waiter and hands control to it
                // directly (symmetric transfer).
                if (owner != nullptr) {
                    owner->schedule(h);
                } else {
                    next = h;
                }
            }
            node = following;
        }
        if (owner != nullptr) {
            m_owner = nullptr;
            owner->release(*this);
        }
        release();
        return next;
    }

    /// A task cancelled before its first step never runs its body (asyncio throws
    /// CancelledError into the unstarted coroutine, which ends it at once).
    std::coroutine_handle<> finish_cancelled_before_start() noexcept {
        m_error = std::make_exception_ptr(cancelled_error{});
        m_cancelled = true;
        return finish();
    }

private:
    void destroy() noexcept;
};

/// "Nothing is lost silently": what asyncio logs as "Task exception was never retrieved" and
/// "Task was destroyed but it is pending!".
inline void report_destroyed_root(const task_root& root) noexcept {
    if (!root.done()) {
        std::fputs("aio: task was destroyed but it is pending\n", stderr);
        return;
    }
    try {
        std::rethrow_exception(root.error());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aio: task exception was never retrieved: %s\n", e.what());
    } catch (...) {
        std::fputs("aio: task exception was never retrieved (not a std::exception)\n", stderr);
    }
}

inline void task_root::destroy() noexcept {
    if (!m_done) {
        // Loop teardown: a waiter that holds no reference (a plain `co_await handle`) may still
        // be linked — even in a cycle of tasks awaiting each other. Tell it we are gone, so it
        // never unlinks from freed memory; its own frame is torn down by the same close().
        // (Waiters that own a reference — gather, wait, task_group — cannot be here.)
        for (completion_node* node = std::exchange(m_waiters, nullptr); node != nullptr;) {
            completion_node* next = node->m_next;
            (void)node->m_on_complete(*node, *this);
            node = next;
        }
    }
    if (!m_done && m_debug) {
        report_destroyed_root(*this);
    } else if (m_done && m_error != nullptr && !m_retrieved && !m_cancelled) {
        report_destroyed_root(*this);
    }
    m_coro.destroy();  // the root lives in this frame: nothing may touch *this afterwards
}

/// Makes room for one more push_back with geometric growth (a bare reserve(size() + 1) would
/// reallocate on every call and turn n pushes into O(n^2) copies).
template <class Vector>
void reserve_one_more(Vector& v) {
    if (v.size() == v.capacity()) {
        v.reserve(v.capacity() < 16 ? 16 : v.capacity() * 2);
    }
}

} // namespace aio::detail

#endif
