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
// gather_policy::collect nothing is cancelled and every outcome is returned.
#ifndef AIO_DETAIL_GATHER_HPP_INCLUDED
#define AIO_DETAIL_GATHER_HPP_INCLUDED

#include "../outcome.hpp"
#include "../task.hpp"
#include "../task_handle.hpp"
#include "awaitable_traits.hpp"
#include "task_root.hpp"

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

namespace aio::detail {

enum class gather_policy { cancel_on_error, collect };

/// A child given as a task<T>: the gather owns its frame and roots it in place.
template <class T>
class gather_task_child {
public:
    using value_type = T;
    using promise_type = task_promise<T>;
    explicit gather_task_child(task<T>&& t) : m_task(std::move(t)) {
        if (!m_task.valid()) {
            throw invalid_state_error("aio: empty (moved-from) task");
        }
    }
    /// Any other awaitable runs inside a small wrapper task.
    template <class A>
        requires(!std::is_same_v<std::remove_cvref_t<A>, task<T>>)
    explicit gather_task_child(A&& a)
        : gather_task_child(awaitable_task<std::remove_cvref_t<A>>(std::forward<A>(a))) {}

    /// False once the child finished and gave its frame back (range gather).
    [[nodiscard]] bool valid() const noexcept { return m_task.valid(); }
    task_root& root() const noexcept { return m_task.handle().promise().m_own; }
    void prepare(root_owner* loop) noexcept {
        auto h = m_task.handle();
        h.promise().make_root(loop).m_refs = 1;  // this child's reference (see release())
    }
    void start() {
        task_root& r = root();
        if (r.take_pending_cancel()) {
            (void)r.finish_cancelled_before_start();
        } else {
            r.coroutine().resume();
        }
    }
    decltype(auto) take() {
        auto h = m_task.handle();
        if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
            return h.promise().result();
        } else {
            return T(std::move(h.promise()).result());
        }
    }
    /// Gives up the frame of a child that has just finished (called from its completion):
    /// the reference that finish() holds keeps it alive until finish() is done with it.
    void release() noexcept { m_task.release().promise().m_own.release(); }
    [[nodiscard]] std::uintptr_t frame_address() const noexcept {
        return reinterpret_cast<std::uintptr_t>(m_task.handle().address());
    }

private:
    task<T> m_task;
};

/// A child given as a task_handle<T>: already scheduled by the loop; the gather shares it.
template <class T>
class gather_handle_child {
public:
    using value_type = T;
    using promise_type = task_promise<T>;
    explicit gather_handle_child(task_handle<T> h) : m_handle(std::move(h)) {
        if (!m_handle.valid()) {
            throw invalid_state_error("aio: empty task handle");
        }
    }
    [[nodiscard]] bool valid() const noexcept { return m_handle.valid(); }
    task_root& root() const noexcept { return m_handle.root(); }
    void prepare(root_owner*) noexcept {}
    void start() noexcept {}
    decltype(auto) take() {
        // Other handles may share the result: copy it when possible, move only if we must.
        if constexpr (std::is_void_v<T> || std::is_reference_v<T> || std::is_copy_constructible_v<T>) {
            return m_handle.result();
        } else {
            return T(std::move(m_handle.promise()).result());
        }
    }
    /// Drops the gather's reference (the task's own result stays with the other handles).
    void release() noexcept { m_handle = task_handle<T>(); }
    [[nodiscard]] std::uintptr_t frame_address() const noexcept {
        return reinterpret_cast<std::uintptr_t>(m_handle.promise_handle().address());
    }

private:
    task_handle<T> m_handle;
};

/// The exception a finished child ended with (a fresh cancelled_error if it was cancelled
/// before it started); nullptr if it returned. Marks it retrieved: the gather reports it.
template <class Child>
std::exception_ptr child_error(const Child& child) {
    return static_cast<typename Child::promise_type&>(promise_base::of(child.root())).exception();
}

template <class A>
struct gather_child_of;
template <class T>
struct gather_child_of<task<T>> {
    using type = gather_task_child<T>;
};
template <class T>
struct gather_child_of<task_handle<T>> {
    using type = gather_handle_child<T>;
};
template <class T>
inline constexpr bool is_task_or_handle = false;
template <class T>
inline constexpr bool is_task_or_handle<task<T>> = true;
template <class T>
inline constexpr bool is_task_or_handle<task_handle<T>> = true;
template <class A>
    requires(!is_task_or_handle<A> && awaitable<A>)
struct gather_child_of<A> {
    using type = gather_task_child<await_result_t<A>>;
};
template <class A>
using gather_child_t = typename gather_child_of<std::remove_cvref_t<A>>::type;

template <class A>
concept gatherable = requires { typename gather_child_t<A>; };

/// What a void child contributes to the results.
template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <class Child>
auto take_value(Child& child) {
    if constexpr (std::is_void_v<typename Child::value_type>) {
        child.take();
        return std::monostate{};
    } else if constexpr (std::is_reference_v<typename Child::value_type>) {
        return std::ref(child.take());
    } else {
        return child.take();
    }
}

/// What one child contributes: its value, or (gather(return_exceptions, ...)) its outcome.
template <gather_policy Policy, class Child>
using gather_element_t =
    std::conditional_t<Policy == gather_policy::collect, outcome<typename Child::value_type>,
                       typename outcome<typename Child::value_type>::value_type>;

template <gather_policy Policy, class Child>
gather_element_t<Policy, Child> take_result(Child& child) {
    if constexpr (Policy == gather_policy::collect) {
        using result = outcome<typename Child::value_type>;
        if (std::exception_ptr error = child_error(child)) {
            return result(std::move(error));
        }
        return result(take_value(child));
    } else {
        return take_value(child);
    }
}

/// The counter, the parent and the failure policy; the derived awaitable owns the children.
class gather_core : protected cancel_hook {
protected:
    gather_core(gather_policy policy, std::size_t children, void (*cancel_children)(gather_core&)) noexcept
        : m_cancel_children(cancel_children), m_remaining(children), m_policy(policy) {
        m_on_cancel = &on_cancel;
    }
    gather_core(const gather_core&) = delete;
    gather_core& operator=(const gather_core&) = delete;
    ~gather_core() {
        if (m_parent_root != nullptr) {
            m_parent_root->unpark(*this);
        }
    }

    [[nodiscard]] bool all_finished() const noexcept { return m_remaining == 0; }
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
        m_parent_root = root_of(parent);
        m_starting = true;
    }
    /// The loop the children run on: the parent's (nullptr outside any loop).
    [[nodiscard]] root_owner* loop() const noexcept {
        return m_parent_root != nullptr ? m_parent_root->m_loop : nullptr;
    }

    /// A cancellation that reached the parent before the gather began cancels the children.
    void cancel_if_parent_cancelled() {
        if (m_parent_root != nullptr && m_parent_root->take_pending_cancel()) {
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
        if (m_parent_root != nullptr) {
            m_parent_root->park(*this);
        }
        return true;
    }

    /// A child finished; `error` is what it failed with, if it did (under cancel_on_error).
    /// Returns the parent to resume when this was the last child and the parent is parked.
    std::coroutine_handle<> child_finished(bool failed, std::exception_ptr error) noexcept {
        if (failed && !m_failed) {
            m_failed = true;
            m_first_error = std::move(error);
            if (m_policy == gather_policy::cancel_on_error) {
                cancel_children();
            }
        }
        if (--m_remaining != 0 || m_starting || !m_parent) {
            return nullptr;  // more to come, or await_suspend (if it ran yet) sees remaining == 0
        }
        if (m_parent_root != nullptr) {
            m_parent_root->unpark(*this);
        }
        return m_parent;
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
        if (m_parent_root != nullptr) {
            m_parent_root->unpark(*this);
            if (m_parent_root->take_pending_cancel()) {
                m_cancelled = true;
            }
        }
        if (m_cancelled) {
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
    void cancel_children() noexcept {
        if (m_holding) {
            m_cancel_due = true;
        } else {
            m_cancel_children(*this);
        }
    }

    static bool on_cancel(cancel_hook& hook) {
        auto& core = static_cast<gather_core&>(hook);
        core.m_cancelled = true;
        core.m_cancel_children(core);
        return true;  // the gather resumes the parent (with cancelled_error) once all finished
    }

    void (*m_cancel_children)(gather_core&);
    std::coroutine_handle<> m_parent;
    task_root* m_parent_root = nullptr;
    std::exception_ptr m_first_error;
    std::exception_ptr m_broken;
    std::size_t m_remaining;
    gather_policy m_policy;
    bool m_starting = false;
    bool m_failed = false;
    bool m_cancelled = false;
    bool m_holding = false;
    bool m_cancel_due = false;
};

} // namespace aio::detail

#endif
