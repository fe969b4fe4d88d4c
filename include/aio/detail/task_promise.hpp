// SPDX-License-Identifier: MIT
// The promise behind aio::task<T>: where a coroutine keeps its continuation, its result and
// its root (see task_root.hpp), and how it hands control back to whoever awaited it.
//
// The one subtle piece is the hand-off between a parent and a child that may finish without
// ever suspending. Returning the parent's handle from the child's final awaiter (symmetric
// transfer) is only a tail call when the compiler makes it one; GCC does not at -O0 or under
// ASan (PR 94794), so a loop of a million synchronously completing awaits would nest a million
// resume() calls and overflow the stack. We use cppcoro's scheme instead: the parent's
// await_suspend resumes the child itself and returns `false` (do not suspend, keep going) when
// the child already finished; only a child that really suspended transfers back to the parent.
// The stack depth is then bounded by the nesting depth of awaits, in every build.
#ifndef AIO_DETAIL_TASK_PROMISE_HPP_INCLUDED
#define AIO_DETAIL_TASK_PROMISE_HPP_INCLUDED

#include "frame_allocator.hpp"
#include "task_root.hpp"
#include "../errors.hpp"

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace aio {
template <class T>
class task;
}

namespace aio::detail {

class promise_base {
public:
    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* p, std::size_t size) noexcept { deallocate_frame(p, size); }

    // Lazy: nothing runs until the task is awaited or handed to the loop.
    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct final_awaiter {
        bool await_ready() const noexcept { return false; }
        // why: a child awaited by a parent either reports "finished inline" (the parent's
        // await_suspend is still on the stack and will continue) or transfers to the parked
        // parent; a root tells its waiters and owner (task_root::finish).
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            task_root& r = self.promise().m_own;
            if (!r.m_is_root) {
                if (r.m_state == await_state::parent_suspended) {
                    return std::coroutine_handle<>::from_address(r.m_continuation);
                }
                r.m_state = await_state::finished_inline;
                return std::noop_coroutine();
            }
            // finish() may destroy this frame: touch nothing of it afterwards.
            std::coroutine_handle<> next = r.finish();
            return next ? next : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }

    void unhandled_exception() noexcept {
        m_own.m_error = std::current_exception();
        try {
            throw;
        } catch (const cancelled_error&) {
            m_own.m_cancelled = true;
        } catch (...) {
        }
    }

    /// The root this coroutine runs under: its own for a created task or gather child, the
    /// parent's for an awaited coroutine, nullptr when awaited from a foreign coroutine type.
    [[nodiscard]] task_root* root() noexcept {
        return m_own.m_is_root ? &m_own : m_own.m_parent_root;
    }

    void rethrow_if_failed() {
        if (m_own.m_error) {
            m_own.m_retrieved = true;
            std::rethrow_exception(m_own.m_error);
        }
    }

    /// Make this coroutine the root of its own chain (create_task, gather).
    task_root& make_root(std::coroutine_handle<> self) noexcept {
        m_own.init_root(self);
        return m_own;
    }

    // A root for created tasks and gather children; for an awaited coroutine it holds the
    // continuation, the parent's root and the exception (see task_root's layout).
    task_root m_own;
};

/// Storage for a value that is constructed by co_return, if the coroutine gets that far.
template <class T>
class task_promise final : public promise_base {
public:
    task_promise() noexcept {}
    task_promise(const task_promise&) = delete;
    task_promise& operator=(const task_promise&) = delete;
    ~task_promise() {
        if (m_own.m_has_value) {
            m_value.~T();
        }
    }

    task<T> get_return_object() noexcept;

    template <class U = T>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        ::new (static_cast<void*>(std::addressof(m_value))) T(std::forward<U>(value));
        m_own.m_has_value = true;
    }

    T& result() & {
        rethrow_if_failed();
        return m_value;
    }
    T&& result() && {
        rethrow_if_failed();
        return std::move(m_value);
    }

private:
    union {
        T m_value;  // constructed iff m_own.m_has_value
    };
};

template <class T>
class task_promise<T&> final : public promise_base {
public:
    task<T&> get_return_object() noexcept;
    void return_value(T& value) noexcept { m_value = std::addressof(value); }
    T& result() {
        rethrow_if_failed();
        return *m_value;
    }

private:
    T* m_value = nullptr;
};

template <>
class task_promise<void> final : public promise_base {
public:
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
    void result() { rethrow_if_failed(); }
};

/// The root a suspending coroutine runs under, or nullptr for foreign coroutine types (which
/// then simply cannot be cancelled through aio).
template <class Promise>
task_root* root_of(std::coroutine_handle<Promise> h) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Promise>) {
        return h.promise().root();
    } else {
        return nullptr;
    }
}

/// Runs `child` inside the parent's await_suspend; true when the parent must stay suspended.
template <class ParentPromise>
bool start_child(std::coroutine_handle<> child, promise_base& child_promise,
                 std::coroutine_handle<ParentPromise> parent) {
    task_root& c = child_promise.m_own;
    c.m_continuation = parent.address();
    c.m_parent_root = root_of(parent);
    c.m_state = await_state::running;
    child.resume();
    if (c.m_state == await_state::finished_inline) {
        return false;
    }
    c.m_state = await_state::parent_suspended;
    return true;
}

} // namespace aio::detail

#endif
