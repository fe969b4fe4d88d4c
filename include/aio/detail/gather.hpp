// SPDX-License-Identifier: MIT
// The machinery behind aio::gather: children as independent roots, one counter, one parent.
//
// Every child becomes a root (a plain task is rooted in place; a task handle already is one),
// so each can be cancelled on its own. The gather hangs one completion_node per child on the
// child's waiter list; the node only decrements `remaining` and, at zero, hands back the parent.
// Children are started inline, in argument order, inside the parent's await_suspend; when all
// of them finish before await_suspend returns, the parent does not suspend at all (the same
// "finished inline" rule as task_promise.hpp, so no stack growth).
//
// Failure policy (TaskGroup-like, see README): the first child to fail — in completion order —
// has its exception rethrown, after its siblings were cancelled and have all finished. With
// gather_policy::collect nothing is cancelled and every outcome is returned.
#ifndef AIO_DETAIL_GATHER_HPP_INCLUDED
#define AIO_DETAIL_GATHER_HPP_INCLUDED

#include "../task.hpp"
#include "../task_handle.hpp"
#include "awaitable_traits.hpp"
#include "prefetch.hpp"
#include "task_root.hpp"

#include <coroutine>
#include <cstddef>
#include <cstdint>
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
    task_root& root() {
        auto h = m_task.handle();
        return h.promise().m_own;
    }
    void prepare(root_owner* loop) {
        auto h = m_task.handle();
        h.promise().make_root(loop).m_refs = 1;  // owned by this child; never released to zero
    }
    /// The exception the child ended with (nullptr if it returned); type-erased for the core.
    static std::exception_ptr error_of(task_root& root) {
        return static_cast<task_promise<T>&>(promise_base::of(root)).exception();
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
    /// Where the child's frame is, without touching it (for prefetching).
    [[nodiscard]] std::uintptr_t frame_address() const noexcept {
        return reinterpret_cast<std::uintptr_t>(m_task.handle().address());
    }
    /// Frees the frame once the result was taken (while the frame is still in cache).
    void drop() noexcept { m_task = task<T>(); }

private:
    task<T> m_task;
};

/// A child given as a task_handle<T>: already scheduled by the loop; the gather shares it.
template <class T>
class gather_handle_child {
public:
    using value_type = T;
    explicit gather_handle_child(task_handle<T> h) : m_handle(std::move(h)) {
        if (!m_handle.valid()) {
            throw invalid_state_error("aio: empty task handle");
        }
    }
    task_root& root() { return m_handle.root(); }
    void prepare(root_owner*) noexcept {}
    static std::exception_ptr error_of(task_root& root) {
        return static_cast<task_promise<T>&>(promise_base::of(root)).exception();
    }
    void start() noexcept {}
    decltype(auto) take() {
        // Other handles may share the result: copy it when possible, move only if we must.
        if constexpr (std::is_void_v<T> || std::is_reference_v<T> || std::is_copy_constructible_v<T>) {
            return m_handle.result();
        } else {
            return T(std::move(m_handle.promise()).result());
        }
    }
    [[nodiscard]] std::uintptr_t frame_address() const noexcept {
        return reinterpret_cast<std::uintptr_t>(m_handle.promise_handle().address());
    }
    /// Drops the gather's reference once the result was taken.
    void drop() noexcept { m_handle = task_handle<T>(); }

private:
    task_handle<T> m_handle;
};

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

struct gather_node : completion_node {
    class gather_core* m_core = nullptr;
    std::exception_ptr (*m_error_of)(task_root&) = nullptr;  // the child's exception, typed
};

/// The counter, the parent and the failure policy; the derived awaitable owns the children.
class gather_core : protected cancel_hook {
protected:
    explicit gather_core(gather_policy policy, void (*cancel_children)(gather_core&)) noexcept
        : m_cancel_children(cancel_children), m_policy(policy) {
        m_on_cancel = &on_cancel;
    }
    gather_core(const gather_core&) = delete;
    gather_core& operator=(const gather_core&) = delete;
    ~gather_core() {
        if (m_parent_root != nullptr) {
            m_parent_root->unpark(*this);
        }
    }

    /// The loop the children run on: the parent's (nullptr outside any loop).
    root_owner* loop() const noexcept { return m_parent_root != nullptr ? m_parent_root->m_loop : nullptr; }

    void begin(std::coroutine_handle<> parent, task_root* parent_root, std::size_t count) noexcept {
        m_parent = parent;
        m_parent_root = parent_root;
        m_remaining = count;
        m_starting = true;
    }

    template <class Child>
    void watch(gather_node& node, Child& c) noexcept {
        task_root& child = c.root();
        node.m_core = this;
        node.m_error_of = &Child::error_of;
        node.m_on_complete = &on_child_complete;
        if (child.done()) {
            (void)on_child_complete(node, child);
        } else {
            child.add_waiter(node);
        }
    }

    /// A cancellation that reached the parent before the gather began cancels the children.
    void cancel_if_parent_cancelled() {
        if (m_parent_root != nullptr && m_parent_root->take_pending_cancel()) {
            m_cancelled = true;
            m_cancel_children(*this);
        }
    }

    /// True when the parent must suspend (some child is still running).
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
        if (m_first_error != nullptr && m_policy == gather_policy::cancel_on_error) {
            std::rethrow_exception(m_first_error);
        }
    }

    static void cancel_root(task_root& child) noexcept {
        if (!child.done()) {
            (void)child.request_cancel();
        }
    }

    gather_policy policy() const noexcept { return m_policy; }

private:
    static std::coroutine_handle<> on_child_complete(completion_node& node, task_root& child) {
        // m_core doubles as "still linked": cleared, the gather's destructor need not look at
        // the child (a cache miss per child, a million of them in a big gather).
        auto& gnode = static_cast<gather_node&>(node);
        gather_core& core = *std::exchange(gnode.m_core, nullptr);
        child.mark_retrieved();  // the gather reports it (first error) or returns it (collect)
        if (child.failed() && core.m_first_error == nullptr) {
            core.m_first_error = gnode.m_error_of(child);
            if (core.m_policy == gather_policy::cancel_on_error) {
                core.m_cancel_children(core);
            }
        }
        if (--core.m_remaining != 0) {
            return nullptr;
        }
        if (core.m_starting) {
            return nullptr;  // await_suspend is still on the stack and sees remaining == 0
        }
        if (core.m_parent_root != nullptr) {
            core.m_parent_root->unpark(core);
        }
        return core.m_parent;
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
    std::size_t m_remaining = 0;
    gather_policy m_policy;
    bool m_starting = false;
    bool m_cancelled = false;
};

} // namespace aio::detail

#endif
