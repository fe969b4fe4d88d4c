// SPDX-License-Identifier: MIT
// The promise behind aio::task<T>: where a coroutine keeps its result, its root (see
// task_root.hpp), and how it hands control back to whoever awaited it.
//
// The one subtle piece is the hand-off between a parent and a child that may finish without
// ever suspending. Returning the parent's handle from the child's final awaiter (symmetric
// transfer) is only a tail call when the compiler makes it one; GCC does not at -O0 or under
// ASan (PR 94794), so a loop of a million synchronously completing awaits would nest a million
// resume() calls and overflow the stack. We use cppcoro's scheme instead: the parent's
// await_suspend resumes the child itself and returns `false` (do not suspend, keep going) when
// the child already finished; only a child that really suspended transfers back to the parent.
// The stack depth is then bounded by the nesting depth of awaits, in every build.
//
// Size matters: every frame carries a promise. The value and the exception share one union
// (a body ends one way or the other), and no coroutine handle is stored: the frame is found
// from the promise's address (coroutine_handle<promise_base>::from_promise), which is exact
// because every promise keeps promise_base at offset 0 and is at most 16-byte aligned, so the
// compilers place it at the same offset in every frame.
#ifndef AIO_DETAIL_TASK_PROMISE_HPP_INCLUDED
#define AIO_DETAIL_TASK_PROMISE_HPP_INCLUDED

#include "frame_allocator.hpp"
#include "task_info.hpp"
#include "task_root.hpp"
#include "../errors.hpp"

#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace aio {
template <class T>
class task;
}

namespace aio::detail {

// std::addressof (an address even if T overloads operator&) without <memory>, which costs ~13k
// preprocessed lines: the builtin that g++, clang++ and MSVC build their std::addressof on.
template <class T>
constexpr T* address_of(T& object) noexcept {
    return __builtin_addressof(object);
}

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
        // parent; a root tells its waiters and the loop (task_root::finish).
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

    /// The root this coroutine runs under: its own for a created task or gather child, the
    /// parent's for an awaited coroutine.
    [[nodiscard]] task_root* root() noexcept {
        return m_own.m_is_root ? &m_own : m_own.m_parent_root;
    }

    /// Make this coroutine the root of its own chain (create_task, gather).
    task_root& make_root(root_owner* loop) noexcept {
        m_own.init_root(loop);
        return m_own;
    }

    /// The promise a root belongs to (promise_base is standard-layout, m_own its first member).
    static promise_base& of(task_root& root) noexcept {
        return *reinterpret_cast<promise_base*>(&root);
    }

    task_root m_own;

protected:
    promise_base() noexcept = default;
    ~promise_base() = default;
    promise_base(const promise_base&) = delete;
    promise_base& operator=(const promise_base&) = delete;
};

static_assert(std::is_standard_layout_v<promise_base>);

inline std::coroutine_handle<> task_root::coroutine() const noexcept {
    auto& self = const_cast<task_root&>(*this);
    return std::coroutine_handle<promise_base>::from_promise(promise_base::of(self));
}

inline void task_root::destroy() noexcept {
    if (!m_done) {
        // Loop teardown: a waiter that holds no reference (a plain `co_await handle`) may still
        // be linked — even in a cycle of tasks awaiting each other. Tell it we are gone, so it
        // never unlinks from freed memory; its own frame is torn down by the same close().
        // (Waiters that own a reference — gather, wait, task_group — cannot be here.)
        notify_waiters([](std::coroutine_handle<>) {});
    }
    coroutine().destroy();  // the root lives in this frame: nothing may touch *this afterwards
}

/// "Nothing is lost silently": an exception that nobody will see goes to stderr, as asyncio
/// logs "Task exception was never retrieved"; `who` names the task (and, when it was recorded,
/// where it was created), if known. A cancellation is not reported.
inline void report_unretrieved(const std::exception_ptr& error,
                               const char* who = nullptr) noexcept {
    const char* const open = who != nullptr ? " (" : "";
    const char* const close = who != nullptr ? ")" : "";
    who = who != nullptr ? who : "";
    try {
        std::rethrow_exception(error);
    } catch (const cancelled_error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aio: task exception was never retrieved: %s%s%s%s\n", e.what(), open,
                     who, close);
    } catch (...) {
        std::fprintf(stderr,
                     "aio: task exception was never retrieved%s%s%s (not a std::exception)\n",
                     open, who, close);
    }
}

/// What asyncio logs as "Task exception was never retrieved" and "Task was destroyed but it is
/// pending!", and what the loop's debug mode or trace hears of a root going away (its info
/// goes with it). The part of report_destroyed_root that has something to do.
[[gnu::noinline]] inline void destroyed_root(task_root& root,
                                             const std::exception_ptr* error) noexcept {
    if (!root.m_done) {
        if (root.m_debug) {
            try {
                std::fprintf(stderr, "aio: task was destroyed but it is pending: %s\n",
                             describe_task(root).c_str());
            } catch (...) {
                std::fputs("aio: task was destroyed but it is pending\n", stderr);
            }
        }
    } else if (error != nullptr && !root.m_retrieved && !root.m_cancelled) {
        std::string who;
        try {
            who = "task " + describe_task(root);
        } catch (...) {  // no memory even for the name: report without it
        }
        report_unretrieved(*error, who.empty() ? nullptr : who.c_str());
    }
    if (root.m_observed && root.m_loop != nullptr && root.m_loop == t_observed_step_loop) {
        root.m_loop->observe_destroy(root);  // before its info goes: the observer may name it
    }
    if (root.m_has_info) {
        task_info_table::instance().remove(root);
    }
}

/// Called as a coroutine's frame is destroyed. why the split: this runs for every frame, and
/// almost every frame has nothing to report (an awaited coroutine's exception went to its
/// parent; a root that returned, or whose exception was seen, with no name or observer), so
/// the checks stay inline and the rest is one call away.
inline void report_destroyed_root(task_root& root, const std::exception_ptr* error) noexcept {
    if (!root.m_is_root) [[likely]] {
        return;
    }
    if ((root.m_observed | root.m_has_info) == 0) [[likely]] {
        if (root.m_done ? error == nullptr || root.m_retrieved || root.m_cancelled
                        : !root.m_debug) {
            return;
        }
    }
    destroyed_root(root, error);
}

struct no_value {};

/// The result union shared by every task_promise: `Stored` (the value, a pointer for T&, or
/// nothing for void) or the exception, told apart by the root's flags.
template <class Stored>
class result_promise : public promise_base {
public:
    result_promise() noexcept {}
    ~result_promise() {
        if (m_own.m_has_value) {
            m_value.~Stored();
        } else if (m_own.m_has_error) {
            report_destroyed_root(m_own, &m_error);
            m_error.~exception_ptr();
            return;
        }
        report_destroyed_root(m_own, nullptr);
    }

    void unhandled_exception() noexcept {
        ::new (static_cast<void*>(address_of(m_error)))
            std::exception_ptr(std::current_exception());
        m_own.m_has_error = true;
        try {
            throw;
        } catch (const cancelled_error&) {
            m_own.m_cancelled = true;
        } catch (...) {
        }
    }

    /// Rethrows what the body ended with, if it did not return.
    void rethrow_if_failed() {
        if (m_own.m_has_error || m_own.m_cancelled) [[unlikely]] {
            rethrow();
        }
    }

    /// The exception the body ended with (a fresh cancelled_error for a task cancelled before
    /// it started); nullptr if it returned. Marks it retrieved.
    [[nodiscard]] std::exception_ptr exception() {
        if (!m_own.m_has_error && !m_own.m_cancelled) {
            return nullptr;
        }
        m_own.m_retrieved = true;
        return m_own.m_has_error ? m_error : std::make_exception_ptr(cancelled_error{});
    }

protected:
    template <class... Args>
    void store_value(Args&&... args) {
        ::new (static_cast<void*>(address_of(m_value))) Stored(std::forward<Args>(args)...);
        m_own.m_has_value = true;
    }
    Stored& stored() noexcept { return m_value; }

private:
    [[noreturn]] void rethrow() {
        m_own.m_retrieved = true;
        if (m_own.m_has_error) {
            std::rethrow_exception(m_error);
        }
        throw cancelled_error{};
    }

    union {
        Stored m_value;  // constructed iff m_own.m_has_value
        std::exception_ptr m_error;  // constructed iff m_own.m_has_error
    };
};

template <class T>
class task_promise final : public result_promise<T> {
    static_assert(alignof(T) <= 16,
                  "aio::task<T>: T may be at most 16-byte aligned (the frame is "
                  "found from the promise's address); return it in a std::unique_ptr");

public:
    task<T> get_return_object() noexcept;

    template <class U = T>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        this->store_value(std::forward<U>(value));
    }

    T& result() & {
        this->rethrow_if_failed();
        return this->stored();
    }
    T&& result() && {
        this->rethrow_if_failed();
        return std::move(this->stored());
    }
};

template <class T>
class task_promise<T&> final : public result_promise<T*> {
public:
    task<T&> get_return_object() noexcept;
    void return_value(T& value) noexcept { this->store_value(address_of(value)); }
    T& result() {
        this->rethrow_if_failed();
        return *this->stored();
    }
};

template <>
class task_promise<void> final : public result_promise<no_value> {
public:
    task<void> get_return_object() noexcept;
    void return_void() noexcept { store_value(); }
    void result() { rethrow_if_failed(); }
};

/// The typed promise a root belongs to (the caller knows its task's result type).
template <class T>
task_promise<T>& promise_of(task_root& root) noexcept {
    return static_cast<task_promise<T>&>(promise_base::of(root));
}

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
