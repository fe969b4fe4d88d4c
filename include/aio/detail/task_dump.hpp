// SPDX-License-Identifier: MIT
// What a task is doing, in words: the wait it is parked on (as its awaiter describes itself
// through the cancel_hook's wait_ops, or a sleep's timer) and the chain of tasks it waits for.
// Used by loop.print_tasks() (asyncio's Task.print_stack, aiomonitor's `ps`), by
// any_task_handle::waiting_on() and by the debug-mode deadlock report.
#ifndef AIO_DETAIL_TASK_DUMP_HPP_INCLUDED
#define AIO_DETAIL_TASK_DUMP_HPP_INCLUDED

#include "loop_core.hpp"
#include "task_info.hpp"
#include "task_root.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace aio::detail {

/// What `root` is waiting on now; an empty text if it is not parked in a wait (it is running,
/// ready to run, finished, or in an awaitable that is not aio's).
inline wait_description describe_wait(const task_root& root) {
    wait_description out;
    if (root.done()) {
        return out;
    }
    if (const cancel_hook* hook = root.parked_hook()) {
        hook->describe(out);
    } else if (const timer_node* node = root.parked_timer()) {
        const loop_core* loop = root.m_loop != nullptr ? &loop_core::of(*root.m_loop) : nullptr;
        out.what = node->m_deadline == clock::time_point::min()
                       ? std::string("sleep(0): a yield to the other tasks")
                       : "sleep (wakes " + seconds_from(loop, node->m_deadline) + ")";
    }
    return out;
}

/// "waiting for <what>", "finished", "cancelled", or "running or ready to run".
inline std::string task_state(const task_root& root, const wait_description& wait) {
    if (root.done()) {
        return root.cancelled() ? "cancelled" : root.failed() ? "failed" : "finished";
    }
    if (!wait.what.empty()) {
        return "waiting for " + wait.what;
    }
    return "running or ready to run (or in an awaitable that is not aio's)";
}

/// Appends one task and, indented under it, the tasks it waits for (to `depth_left` levels;
/// a task already on the path is a cycle, named but not followed).
inline void dump_task(std::string& out, const task_root& root, std::size_t indent,
                      std::vector<const task_root*>& path, std::size_t depth_left) {
    constexpr std::size_t max_children = 8;
    const wait_description wait = describe_wait(root);
    out.append(indent, ' ');
    out += describe_task(root);
    out += ": ";
    out += task_state(root, wait);
    out += '\n';
    if (wait.tasks.empty() || depth_left == 0) {
        return;
    }
    path.push_back(&root);
    const std::size_t shown = wait.tasks.size() < max_children ? wait.tasks.size() : max_children;
    for (std::size_t i = 0; i < shown; ++i) {
        const task_root& next = *wait.tasks[i];
        bool cycle = false;
        for (const task_root* above : path) {
            cycle = cycle || above == &next;
        }
        if (cycle) {
            out.append(indent + 4, ' ');
            out += task_name(next) + ": a cycle: it waits, through the tasks above, for this one\n";
        } else {
            dump_task(out, next, indent + 4, path, depth_left - 1);
        }
    }
    if (shown < wait.tasks.size()) {
        out.append(indent + 4, ' ');
        out += "... and " + std::to_string(wait.tasks.size() - shown) + " more\n";
    }
    path.pop_back();
}

/// The report of print_tasks: every task in `tasks`, each with the chain it waits on.
inline std::string dump_tasks(const std::vector<task_root*>& tasks) {
    std::string out =
        std::to_string(tasks.size()) + (tasks.size() == 1 ? " task" : " tasks") + " pending\n";
    std::vector<const task_root*> path;
    for (const task_root* root : tasks) {
        dump_task(out, *root, 2, path, 8);
    }
    return out;
}

}  // namespace aio::detail

#endif
