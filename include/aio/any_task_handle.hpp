// SPDX-License-Identifier: MIT
// aio::any_task_handle and aio::current_task(): a task seen without its result type — what
// asyncio.current_task() and asyncio.all_tasks() hand out (an asyncio.Task, whatever it returns).
//
//     me = asyncio.current_task()            aio::any_task_handle me = co_await
//     aio::current_task(); me.set_name("fetcher")                 me.set_name("fetcher"); for t in
//     asyncio.all_tasks(): ...      for (auto& t : loop.all_tasks()) ... t.get_name(); t.done();
//     t.cancel()     t.get_name(); t.done(); t.cancel();
//
// Why current_task() is awaited: the task running is the coroutine that awaits, and the
// awaiter is handed it (await_suspend) without the loop keeping a "current task" per step.
// It never suspends.
//
// Lifetime rules: as a task_handle (it shares the task: the frame lives while a handle does).
// So a task that keeps its own handle in a local (`auto me = co_await aio::current_task();`)
// keeps its frame alive until that local goes, at the end of its body: if the loop is closed
// while the task is still pending (never finished, never cancelled; aio::run cancels and
// finishes every task first), the frame is never freed. Call what you need on the handle and
// let it go, or keep the name. An empty handle (default-constructed, moved-from, or current_task()
// in a coroutine that is not aio's) refers to no task, and every member but valid() and cancel()
// throws invalid_state_error.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_ANY_TASK_HANDLE_HPP_INCLUDED
#define AIO_ANY_TASK_HANDLE_HPP_INCLUDED

#include "detail/task_dump.hpp"
#include "detail/task_info.hpp"
#include "errors.hpp"
#include "task_handle.hpp"

#include <coroutine>
#include <string>
#include <string_view>
#include <utility>

namespace aio {

class any_task_handle {
public:
    any_task_handle() noexcept = default;
    /// Shares the task `root` (the library's: all_tasks, current_task).
    explicit any_task_handle(detail::task_root& root) noexcept : m_root(&root) { root.add_ref(); }
    template <class T>
    any_task_handle(const task_handle<T>& handle) noexcept  // NOLINT: a task_handle is one
        : m_root(handle.valid() ? &handle.root() : nullptr) {
        if (m_root != nullptr) {
            m_root->add_ref();
        }
    }
    any_task_handle(const any_task_handle& other) noexcept : m_root(other.m_root) {
        if (m_root != nullptr) {
            m_root->add_ref();
        }
    }
    any_task_handle(any_task_handle&& other) noexcept
        : m_root(std::exchange(other.m_root, nullptr)) {}
    any_task_handle& operator=(any_task_handle other) noexcept {
        std::swap(m_root, other.m_root);
        return *this;
    }
    ~any_task_handle() {
        if (m_root != nullptr) {
            m_root->drop_ref();
        }
    }

    [[nodiscard]] bool valid() const noexcept { return m_root != nullptr; }
    [[nodiscard]] bool done() const { return checked("done").done(); }
    [[nodiscard]] bool cancelled() const { return checked("cancelled").cancelled(); }
    /// As task_handle::cancel().
    bool cancel() noexcept { return m_root != nullptr && m_root->request_cancel(); }
    [[nodiscard]] unsigned cancelling() const { return checked("cancelling").cancelling(); }

    /// Task.get_name(): the name given (create_task's or set_name's), else "Task-N".
    [[nodiscard]] std::string get_name() const { return detail::task_name(checked("get_name")); }
    /// Task.set_name().
    void set_name(std::string_view name) {
        detail::task_info_table::instance().set(checked("set_name"), name, {});
    }
    /// Where the task was created, if recorded (debug mode, or a name given to create_task).
    [[nodiscard]] creation_site created_at() const {
        return detail::task_site(checked("created_at"));
    }
    /// What the task is waiting on now, in words ("task Task-3", "aio::queue::get", "sleep
    /// (wakes in 0.250 s)"), as loop.print_tasks() shows it; empty if it is not parked in a
    /// wait (running, ready to run, finished, or in an awaitable that is not aio's).
    [[nodiscard]] std::string waiting_on() const {
        return detail::describe_wait(checked("waiting_on")).what;
    }

    friend bool operator==(const any_task_handle& a, const any_task_handle& b) noexcept {
        return a.m_root == b.m_root;
    }

private:
    detail::task_root& checked(const char* what) const {
        if (m_root == nullptr) [[unlikely]] {
            throw invalid_state_error(std::string("aio::any_task_handle::") + what +
                                      ": empty handle");
        }
        return *m_root;
    }

    detail::task_root* m_root = nullptr;
};

namespace detail {
class current_task_awaitable {
public:
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> self) noexcept {
        m_root = root_of(self);
        return false;  // never suspends: it only wanted to see who awaits
    }
    [[nodiscard]] any_task_handle await_resume() const noexcept {
        return m_root != nullptr ? any_task_handle(*m_root) : any_task_handle();
    }

private:
    task_root* m_root = nullptr;
};
}  // namespace detail

/// `co_await aio::current_task()`: the task the awaiting coroutine runs under
/// (asyncio.current_task()); an empty handle in a coroutine type that is not aio's.
[[nodiscard]] inline detail::current_task_awaitable current_task() noexcept {
    return {};
}

}  // namespace aio

#endif
