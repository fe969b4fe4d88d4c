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
#include "task_root.hpp"

#include <coroutine>
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
    explicit gather_handle_child(const task_handle<T>& h) : m_coro(checked(h.m_coro)) {
        root().add_ref();
    }
    explicit gather_handle_child(task_handle<T>&& h)
        : m_coro(checked(std::exchange(h.m_coro, {}))) {}
    gather_handle_child(gather_handle_child&& other) noexcept
        : m_coro(std::exchange(other.m_coro, {})) {}
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
        if constexpr (std::is_void_v<T> || std::is_reference_v<T> ||
                      std::is_copy_constructible_v<T>) {
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

} // namespace aio::detail

#endif
