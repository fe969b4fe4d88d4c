// SPDX-License-Identifier: MIT
// What aio::wait and aio::as_completed share: a waiter node on each watched task, all in one
// allocation (task_watch), and the check of the task set they were given (check_tasks).
// Lifetime rules: the owner outlives its task_watch, which unlinks every node still linked
// when it is destroyed, so a task that finishes later finds no dangling node.
#ifndef AIO_DETAIL_TASK_WATCH_HPP_INCLUDED
#define AIO_DETAIL_TASK_WATCH_HPP_INCLUDED

#include "../errors.hpp"
#include "../task_handle.hpp"
#include "owning_ptr.hpp"
#include "task_root.hpp"

#include <coroutine>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace aio::detail {

/// One waiter node per task, in a single allocation; `on_done(index)` is told who finished.
template <class Owner>
class task_watch {
public:
    template <class T>
    void watch(std::vector<task_handle<T>>& tasks, Owner& owner) {
        m_nodes = make_owning_array<node>(tasks.size());
        for (std::size_t i = 0; i < tasks.size(); ++i) {
            m_nodes[i].m_owner = &owner;
            m_nodes[i].m_index = i;
            m_nodes[i].m_root = &tasks[i].root();
            m_nodes[i].m_on_complete = &on_complete;
            if (!tasks[i].done()) {
                note_loop(tasks[i].root());
                tasks[i].root().add_waiter(m_nodes[i]);
                m_nodes[i].m_linked = true;
            }
        }
        m_size = tasks.size();
    }
    void unwatch() noexcept {
        for (std::size_t i = 0; i < m_size; ++i) {
            if (m_nodes[i].m_linked) {
                m_nodes[i].m_root->remove_waiter(m_nodes[i]);
                m_nodes[i].m_linked = false;
            }
        }
    }
    ~task_watch() { unwatch(); }

    /// Throws unless every task that was unfinished when watched runs on `loop` (see
    /// check_same_loop): checked at co_await, where the waiter's loop is known.
    void check_loop(const root_owner* loop) const {
        if (m_loops_differ || (m_loop != nullptr && m_loop != loop)) {
            refuse_other_loop(m_loop == nullptr);
        }
    }

private:
    void note_loop(const task_root& root) noexcept {
        if (root.m_loop == nullptr) {
            m_loops_differ = true;  // detached: its loop is closed
        } else if (m_loop == nullptr) {
            m_loop = root.m_loop;
        } else if (root.m_loop != m_loop) {
            m_loops_differ = true;
        }
    }

    struct node : completion_node {
        Owner* m_owner = nullptr;
        task_root* m_root = nullptr;
        std::size_t m_index = 0;
        bool m_linked = false;
    };
    static std::coroutine_handle<> on_complete(completion_node& n, task_root&) {
        auto& self = static_cast<node&>(n);
        self.m_linked = false;
        return self.m_owner->on_done(self.m_index);
    }
    owning_ptr<node[]> m_nodes;
    std::size_t m_size = 0;
    const root_owner* m_loop = nullptr;  // the loop of the unfinished tasks
    bool m_loops_differ = false;         // ... or they do not share one
};

template <class T>
std::vector<task_handle<T>> check_tasks(std::vector<task_handle<T>> tasks, const char* who) {
    if (tasks.empty()) {
        throw std::invalid_argument(std::string(who) + ": the set of tasks is empty");
    }
    for (const auto& t : tasks) {
        if (!t.valid()) {
            throw invalid_state_error(std::string(who) + ": empty task handle");
        }
    }
    return tasks;
}

} // namespace aio::detail

#endif
