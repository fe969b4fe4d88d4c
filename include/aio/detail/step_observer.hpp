// SPDX-License-Identifier: MIT
// step_observer: what the loop learns about a step while debug mode or a trace is on — which
// tasks ran in it (each root that parked or finished: task_root::note_step), when it began and
// ended, and what it queued — handed to the trace (loop_tracer) and, for a slow step, to
// debug mode's report.
//
// Why this takes care: a task may finish in its step and its frame be destroyed before the step
// returns to the loop (a created task nobody holds a handle to, a gather child). The root tells
// the observer as it goes (destroyed()), which then settles what it needs about it at once, so
// nothing reads a root after its frame is gone.
#ifndef AIO_DETAIL_STEP_OBSERVER_HPP_INCLUDED
#define AIO_DETAIL_STEP_OBSERVER_HPP_INCLUDED

#include "clock.hpp"
#include "loop_tracer.hpp"
#include "owning_ptr.hpp"
#include "ready_queue.hpp"
#include "task_info.hpp"
#include "task_root.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace aio::detail {

class step_observer {
public:
    /// The loop `loop` is about to run a step (until end(), or until the scope that called
    /// this ends: see step_scope).
    void begin(const ready_queue& ready, root_owner& loop) noexcept {
        m_roots.clear();
        m_gone_name.clear();
        m_pushed_before = ready.pushed();
        m_in_step = true;
        t_observed_step_loop = &loop;
        m_started = clock::now();
    }
    /// Ends the step's observation even if the step threw (keyboard_interrupt).
    class step_scope {
    public:
        explicit step_scope(step_observer& o) noexcept : m_observer(o) {}
        step_scope(const step_scope&) = delete;
        step_scope& operator=(const step_scope&) = delete;
        ~step_scope() {
            m_observer.m_in_step = false;
            t_observed_step_loop = nullptr;
        }

    private:
        step_observer& m_observer;
    };
    /// `root` parked or finished in this step.
    void noted(task_root& root) noexcept {
        if (!m_in_step || (!m_roots.empty() && m_roots.back() == &root)) {
            return;
        }
        try {
            m_roots.push_back(&root);
        } catch (...) {  // no memory: the step is observed without this root
        }
    }
    /// The frame holding `root` is being destroyed (in a step or not).
    void destroyed(task_root& root, bool debug_mode) noexcept {
        bool ran = false;
        for (task_root*& r : m_roots) {
            if (m_in_step && r == &root) {
                r = nullptr;
                ran = true;
            }
        }
        if (ran && debug_mode) {
            try {
                m_gone_name = describe_task(root);
            } catch (...) {
            }
        }
        if (tracer != nullptr) {
            tracer->gone(root, ran, m_started, clock::now());
        }
    }
    /// The step is over (`item`: the ready item it ran, 0 for a task's start). Returns how
    /// long it took.
    clock::duration end(std::uintptr_t item, ready_queue& ready) {
        const clock::time_point ended = clock::now();
        m_in_step = false;
        task_root* const root = m_roots.empty() ? nullptr : m_roots.back();
        if (tracer != nullptr) {
            const bool callback = item != 0 && kind_of(item) == ready_kind::callback;
            tracer->step({root, &m_roots, item, m_started, ended, callback, !m_roots.empty()},
                         ready, ready.pushed() - m_pushed_before);
        }
        return ended - m_started;
    }
    /// After end(): the step's task, for a report ("Task-3 (created at ...)"); empty if it
    /// ran none of aio's.
    [[nodiscard]] std::string step_task() const {
        if (m_roots.empty()) {
            return {};
        }
        return m_roots.back() != nullptr ? describe_task(*m_roots.back()) : m_gone_name;
    }

    owning_ptr<loop_tracer> tracer;  // start_trace's writer, if tracing

private:
    std::vector<task_root*> m_roots;  // the roots the step ran, in order (nullptr: gone)
    std::string m_gone_name;          // debug mode: the last root destroyed in the step
    std::size_t m_pushed_before = 0;
    clock::time_point m_started{};
    bool m_in_step = false;
};

}  // namespace aio::detail

#endif
