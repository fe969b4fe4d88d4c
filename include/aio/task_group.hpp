// SPDX-License-Identifier: MIT
// aio::task_group: structured concurrency — a scope whose tasks all finish before it ends
// (asyncio.TaskGroup).
//
//     async with asyncio.TaskGroup() as tg:          aio::task_group tg;
//         t1 = tg.create_task(one())                 auto t1 = tg.create_task(one());
//         t2 = tg.create_task(two())                 auto t2 = tg.create_task(two());
//     # both done here                               co_await tg;  // both done here
//
// `co_await tg` is the end of the `async with` block: it waits for every child. The first
// child to fail (with anything but cancelled_error) cancels the others; once all have
// finished, every failure is thrown together as aio::task_group_error (asyncio's
// ExceptionGroup). If the awaiting task is cancelled, the children are cancelled too and
// cancelled_error follows once they have finished.
//
// Differences from asyncio, because C++ has no `async with`: a child's failure cancels its
// siblings at once, but the body between create_task() and `co_await tg` is not interrupted —
// it learns of the failure at `co_await tg`. Destroying a group that was never awaited cancels
// its children (they finish on the loop; their errors are reported as never retrieved).
//
// Lifetime rules: children are created tasks on the running loop; the group holds one small
// node per child until it is destroyed.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_TASK_GROUP_HPP_INCLUDED
#define AIO_TASK_GROUP_HPP_INCLUDED

#include "detail/owning_ptr.hpp"
#include "event_loop.hpp"
#include "task.hpp"
#include "task_handle.hpp"

#include <coroutine>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aio {

/// Every non-cancellation failure of a task_group's children, in completion order.
class task_group_error : public std::runtime_error {
public:
    explicit task_group_error(std::vector<std::exception_ptr> errors)
        : std::runtime_error(describe(errors)), m_errors(std::move(errors)) {}
    [[nodiscard]] const std::vector<std::exception_ptr>& exceptions() const noexcept {
        return m_errors;
    }

private:
    static std::string describe(const std::vector<std::exception_ptr>& errors) {
        std::string text = "aio::task_group: " + std::to_string(errors.size()) + " task(s) failed";
        for (const auto& e : errors) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                text += "; ";
                text += x.what();
            } catch (...) {
                text += "; (not a std::exception)";
            }
        }
        return text;
    }
    std::vector<std::exception_ptr> m_errors;
};

class task_group : private cancel_hook {
public:
    task_group() noexcept : cancel_hook(ops) {}
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group() {
        m_abort_call.cancel();
        for (auto& c : m_children) {
            if (c->m_linked) {
                c->m_root->remove_waiter(*c);
                c->m_linked = false;
                (void)c->m_root->request_cancel();
            }
            c->m_root->drop_ref();
        }
    }

    /// Starts `work` on the running loop as a child of this group; `name` as
    /// event_loop::create_task.
    template <class T>
    task_handle<T> create_task(task<T> work, std::string_view name = {},
                               creation_site where = creation_site::here()) {
        if (m_joined) {
            throw event_loop_error("aio::task_group::create_task: the group has finished");
        }
        if (m_aborting) {
            throw event_loop_error("aio::task_group::create_task: the group is shutting down");
        }
        detail::reserve_one_more(m_children);
        auto entry = detail::make_owning<child>();
        m_loop = &get_running_loop();
        task_handle<T> handle = m_loop->create_task(std::move(work), name, where);
        entry->m_group = this;
        entry->m_root = &handle.root();
        entry->m_root->add_ref();
        entry->m_error = [](detail::task_root& root) {
            return detail::promise_of<T>(root).exception();
        };
        entry->m_on_complete = &on_child_complete;
        entry->m_root->add_waiter(*entry);
        entry->m_linked = true;
        ++m_pending;
        m_children.push_back(std::move(entry));
        return handle;
    }

    /// Children not finished yet.
    [[nodiscard]] std::size_t pending() const noexcept { return m_pending; }

    class join_awaiter {
    public:
        explicit join_awaiter(task_group& group) noexcept : m_group(group) {}
        [[nodiscard]] bool await_ready() const noexcept { return m_group.m_pending == 0; }
        // why: the group resumes us when its last child finishes; while we wait, the group is
        // our task's cancel hook, so cancelling us cancels every child first.
        template <class Promise>
        void await_suspend(std::coroutine_handle<Promise> parent) noexcept {
            m_group.m_parent = parent;
            m_group.bind(parent);
            if (m_group.take_cancel()) {
                (void)on_cancel(m_group);
            }
            m_group.arm();
        }
        void await_resume() { m_group.finish_join(); }

    private:
        task_group& m_group;
    };
    [[nodiscard]] join_awaiter operator co_await() noexcept { return join_awaiter(*this); }

private:
    struct child : detail::completion_node {
        task_group* m_group = nullptr;
        detail::task_root* m_root = nullptr;
        std::exception_ptr (*m_error)(detail::task_root&) = nullptr;  // typed: the result's union
        std::exception_ptr m_failure;     // what it failed with (not cancelled_error)
        child* m_next_failure = nullptr;  // the group's list of failures, in completion order
        bool m_linked = false;
    };

    static std::coroutine_handle<> on_child_complete(detail::completion_node& node,
                                                     detail::task_root& root) {
        auto& c = static_cast<child&>(node);
        task_group& group = *c.m_group;
        c.m_linked = false;
        --group.m_pending;
        if (root.failed()) {
            // why not marked retrieved here: only finish_join delivers the failure (as
            // task_group_error); a group destroyed unjoined leaves it to the child's root,
            // which reports it as never retrieved unless a handle read it.
            if (!root.cancelled()) {
                // why in the child's node: this runs as the child finishes (noexcept), so it
                // must not allocate; copying an exception_ptr does not
                const bool seen = root.m_retrieved;
                c.m_failure = c.m_error(root);  // marks it retrieved: undone until the join
                root.m_retrieved = seen;
                (group.m_last_failure != nullptr ? group.m_last_failure->m_next_failure
                                                 : group.m_first_failure) = &c;
                group.m_last_failure = &c;
                group.abort_soon();
            }
        }
        if (group.m_pending == 0 && group.m_parent) {
            group.disarm();
            return std::exchange(group.m_parent, nullptr);
        }
        return nullptr;
    }

    static cancel_outcome on_cancel(cancel_hook& hook) {
        auto& group = static_cast<task_group&>(hook);
        group.m_parent_cancelled = true;
        group.abort();
        // resumed by the last child, and finish_join throws; else the root delivers it
        return group.m_pending != 0 ? cancel_outcome::passed_on : cancel_outcome::missed;
    }
    static void describe(const cancel_hook& hook, wait_description& out) {
        const auto& group = static_cast<const task_group&>(hook);
        out.what = "task_group (" + std::to_string(group.m_pending) + " pending)";
        for (const auto& c : group.m_children) {
            if (c->m_linked) {
                out.tasks.push_back(c->m_root);
            }
        }
    }
    static constexpr wait_ops ops{&on_cancel, &describe};

    // why deferred: like asyncio's done-callbacks, the group reacts on the next iteration, so
    // siblings already woken in this iteration (e.g. by the same timer tick) finish their step
    // and a second failure is reported too instead of being turned into a cancellation.
    void abort_soon() noexcept {
        if (!m_aborting && !m_abort_call.valid()) {
            try {
                m_abort_call = m_loop->call_soon([group = this] {
                    group->m_abort_call = callback_handle();
                    group->abort();
                });
            } catch (...) {  // no memory for the callback: cancel the siblings now instead
                abort();
            }
        }
    }

    void abort() noexcept {
        m_aborting = true;
        for (auto& c : m_children) {
            if (c->m_linked) {
                (void)c->m_root->request_cancel();
            }
        }
    }

    void finish_join() {
        m_joined = true;
        disarm();
        if (take_cancel()) {
            m_parent_cancelled = true;
        }
        if (m_first_failure != nullptr) {
            std::vector<std::exception_ptr> errors;
            for (const child* c = m_first_failure; c != nullptr; c = c->m_next_failure) {
                errors.push_back(c->m_failure);
            }
            for (const child* c = m_first_failure; c != nullptr; c = c->m_next_failure) {
                c->m_root->mark_retrieved();  // delivered by the throw below
            }
            throw task_group_error(std::move(errors));
        }
        if (m_parent_cancelled) {
            throw cancelled_error{};
        }
    }

    std::vector<detail::owning_ptr<child>> m_children;
    child* m_first_failure = nullptr;
    child* m_last_failure = nullptr;
    std::coroutine_handle<> m_parent;
    event_loop* m_loop = nullptr;
    callback_handle m_abort_call;
    std::size_t m_pending = 0;
    bool m_aborting = false;
    bool m_joined = false;
    bool m_parent_cancelled = false;
};

} // namespace aio

#endif
