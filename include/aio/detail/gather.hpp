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

    /// False once the child finished and was let go (range gather).
    [[nodiscard]] bool valid() const noexcept { return m_task.valid(); }
    task_root& root() const noexcept { return m_task.handle().promise().m_own; }
    void prepare(root_owner* loop) noexcept {
        auto h = m_task.handle();
        h.promise().make_root(loop).m_refs = 1;  // this child's reference (see let_go)
    }
    void start() {
        task_root& r = root();
        if (r.take_pending_cancel()) {
            (void)r.finish_cancelled_before_start();
        } else {
            r.coroutine().resume();
        }
    }
    /// The finished child's result, from its root alone (a range gather reads no slot).
    static decltype(auto) take(task_root& root) {
        auto& promise = static_cast<promise_type&>(promise_base::of(root));
        if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
            return promise.result();
        } else {
            return T(std::move(promise).result());
        }
    }
    decltype(auto) take() { return take(root()); }
    /// Lets go of a child that has just finished (called from its completion): drops this
    /// child's reference, so the frame is freed once finish() is done with it, and forgets it.
    void let_go(task_root& finished) noexcept {
        (void)m_task.release();
        finished.release();
    }
    [[nodiscard]] std::uintptr_t frame_address() const noexcept {
        return reinterpret_cast<std::uintptr_t>(m_task.handle().address());
    }

private:
    task<T> m_task;
};

/// A child given as a task_handle<T>: already scheduled by the loop; the gather shares it and
/// holds one reference (managed here, so that it can be dropped through the root alone).
template <class T>
class gather_handle_child {
public:
    using value_type = T;
    using promise_type = task_promise<T>;
    explicit gather_handle_child(const task_handle<T>& h) : m_coro(checked(h.m_coro)) { root().add_ref(); }
    explicit gather_handle_child(task_handle<T>&& h) : m_coro(checked(std::exchange(h.m_coro, {}))) {}
    gather_handle_child(gather_handle_child&& other) noexcept : m_coro(std::exchange(other.m_coro, {})) {}
    gather_handle_child& operator=(gather_handle_child&&) = delete;
    ~gather_handle_child() {
        if (m_coro) {
            root().release();
        }
    }

    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(m_coro); }
    task_root& root() const noexcept { return m_coro.promise().m_own; }
    void prepare(root_owner*) noexcept {}
    void start() noexcept {}
    static decltype(auto) take(task_root& root) {
        auto& promise = static_cast<promise_type&>(promise_base::of(root));
        // Other handles may share the result: copy it when possible, move only if we must.
        if constexpr (std::is_void_v<T> || std::is_reference_v<T> || std::is_copy_constructible_v<T>) {
            return promise.result();
        } else {
            return T(std::move(promise).result());
        }
    }
    decltype(auto) take() { return take(root()); }
    /// Takes over h's reference, leaving h empty.
    static std::coroutine_handle<promise_type> steal(task_handle<T>& h) noexcept {
        return std::exchange(h.m_coro, {});
    }
    /// Drops the gather's reference (the result stays with the other handles) and forgets it.
    void let_go(task_root& finished) noexcept {
        m_coro = {};
        finished.release();
    }
    [[nodiscard]] std::uintptr_t frame_address() const noexcept {
        return reinterpret_cast<std::uintptr_t>(m_coro.address());
    }

private:
    static std::coroutine_handle<promise_type> checked(std::coroutine_handle<promise_type> h) {
        if (!h) {
            throw invalid_state_error("aio: empty task handle");
        }
        return h;
    }

    std::coroutine_handle<promise_type> m_coro;
};

/// The exception a finished child ended with (a fresh cancelled_error if it was cancelled
/// before it started); nullptr if it returned. Marks it retrieved: the gather reports it.
template <class Child>
std::exception_ptr child_error(task_root& root) {
    return static_cast<typename Child::promise_type&>(promise_base::of(root)).exception();
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
auto take_value(task_root& root) {
    if constexpr (std::is_void_v<typename Child::value_type>) {
        Child::take(root);
        return std::monostate{};
    } else if constexpr (std::is_reference_v<typename Child::value_type>) {
        return std::ref(Child::take(root));
    } else {
        return Child::take(root);
    }
}

/// What one child contributes: its value, or (gather(return_exceptions, ...)) its outcome.
template <gather_policy Policy, class Child>
using gather_element_t =
    std::conditional_t<Policy == gather_policy::collect, outcome<typename Child::value_type>,
                       typename outcome<typename Child::value_type>::value_type>;

template <gather_policy Policy, class Child>
gather_element_t<Policy, Child> take_result(task_root& root) {
    if constexpr (Policy == gather_policy::collect) {
        using result = outcome<typename Child::value_type>;
        if (std::exception_ptr error = child_error<Child>(root)) {
            return result(std::move(error));
        }
        return result(take_value<Child>(root));
    } else {
        return take_value<Child>(root);
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
