// SPDX-License-Identifier: MIT
// What gather (and wait_for) hold for each child: a task<T> they own and root in place, or a
// task_handle<T> they share; which one an argument becomes (gather_child_t: any other
// awaitable runs inside a small wrapper task); and how a finished child's result is taken,
// from its root alone, as a value or (gather(return_exceptions, ...)) as an aio::outcome<T>.
#ifndef AIO_DETAIL_GATHER_CHILDREN_HPP_INCLUDED
#define AIO_DETAIL_GATHER_CHILDREN_HPP_INCLUDED

#include "../outcome.hpp"
#include "../task.hpp"
#include "../task_handle.hpp"
#include "awaitable_traits.hpp"
#include "std_parts.hpp"
#include "task_root.hpp"

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace aio::detail {

enum class gather_policy { cancel_on_error, collect };

/// A child given as a task<T>: the gather owns its frame and roots it in place.
///
/// Each operation also exists as a static function of the bare coroutine handle, for the
/// range gather, which keeps only handles (8 bytes a child, nothing to destroy per slot).
template <class T>
class gather_task_child {
public:
    using value_type = T;
    using promise_type = task_promise<T>;
    using handle = std::coroutine_handle<promise_type>;
    explicit gather_task_child(task<T>&& t) : m_task(std::move(t)) { m_task.check_runnable("aio"); }
    /// Any other awaitable runs inside a small wrapper task.
    template <class A>
        requires(!std::is_same_v<std::remove_cvref_t<A>, task<T>>)
    explicit gather_task_child(A&& a)
        : gather_task_child(awaitable_task<std::remove_cvref_t<A>>(std::forward<A>(a))) {}

    task_root& root() const noexcept { return m_task.handle().promise().m_own; }
    /// Hands the frame over (to a range gather), leaving this child empty.
    [[nodiscard]] handle release() noexcept { return m_task.release(); }

    void prepare(root_owner* loop) noexcept { prepare(m_task.handle(), loop); }
    void start() { start(m_task.handle()); }
    /// Roots the child in place: its root holds the gather's (or wait_for's) one reference.
    static void prepare(handle h, root_owner* loop) noexcept {
        h.promise().make_root(loop).m_refs = 1;
    }
    static void start(handle h) { h.promise().m_own.start(); }
    /// Drops a child the range gather still holds (the frame goes with it).
    static void dispose(handle h) noexcept { h.destroy(); }

    /// The finished child's result, from its root alone (a range gather reads no slot).
    static decltype(auto) take(task_root& root) {
        auto& promise = promise_of<T>(root);
        if constexpr (std::is_void_v<T> || std::is_reference_v<T>) {
            return promise.result();
        } else {
            return T(std::move(promise).result());
        }
    }
    decltype(auto) take() { return take(root()); }

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
    using handle = std::coroutine_handle<promise_type>;
    explicit gather_handle_child(const task_handle<T>& h) : m_coro(checked(h.promise_handle())) {
        root().add_ref();
    }
    explicit gather_handle_child(task_handle<T>&& h) : m_coro(checked(std::move(h).release())) {}
    gather_handle_child(gather_handle_child&& other) noexcept
        : m_coro(std::exchange(other.m_coro, {})) {}
    gather_handle_child& operator=(gather_handle_child&&) = delete;
    ~gather_handle_child() {
        if (m_coro) {
            dispose(m_coro);
        }
    }

    task_root& root() const noexcept { return m_coro.promise().m_own; }
    /// Hands the reference over (to a range gather), leaving this child empty.
    [[nodiscard]] handle release() noexcept { return std::exchange(m_coro, {}); }

    // Nothing to root or start: the loop runs the task already.
    void prepare(root_owner*) noexcept {}
    void start() noexcept {}
    static void prepare(handle, root_owner*) noexcept {}
    static void start(handle) noexcept {}
    /// Drops the reference a range gather still holds (the result stays with the handles).
    static void dispose(handle h) noexcept { h.promise().m_own.drop_ref(); }

    static decltype(auto) take(task_root& root) {
        auto& promise = promise_of<T>(root);
        // Other handles may share the result: copy it when possible, move only if we must.
        if constexpr (std::is_void_v<T> || std::is_reference_v<T> ||
                      std::is_copy_constructible_v<T>) {
            return promise.result();
        } else {
            return T(std::move(promise).result());
        }
    }
    decltype(auto) take() { return take(root()); }

private:
    static handle checked(handle h) {
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
    return promise_of<typename Child::value_type>(root).exception();
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

} // namespace aio::detail

#endif
