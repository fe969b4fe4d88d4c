// SPDX-License-Identifier: MIT
// loop_tracer: what the loop tells a trace (<aio/trace.hpp>) about each step while tracing is
// on. An interface, so that the loop holds a pointer and the writer, with its file and its
// tables, is compiled only into programs that include <aio/trace.hpp>.
#ifndef AIO_DETAIL_LOOP_TRACER_HPP_INCLUDED
#define AIO_DETAIL_LOOP_TRACER_HPP_INCLUDED

#include "clock.hpp"
#include "ready_queue.hpp"
#include "task_root.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aio::detail {

class loop_tracer {
public:
    /// One step, as the loop saw it.
    struct step_record {
        const task_root* task;  // the task it ran (nullptr: a callback, a task not aio's, or
                                // one whose frame is gone already: see gone())
        const std::vector<task_root*>* roots;  // every task that parked or ended in it, in
                                               // order, `task` last; nullptr entries: gone
        std::uintptr_t item;  // the ready item it ran (a resumed frame, a callback), 0: a start
        clock::time_point started;
        clock::time_point ended;
        bool callback;
        bool ran_tasks;  // `roots` is not empty
    };
    virtual ~loop_tracer() = default;
    /// `task`'s frame is being destroyed: forget it; `ran`: in the step now running, which
    /// began at `started` (it ended there: record that step now, its root will be gone).
    virtual void gone(const task_root& task, bool ran, clock::time_point started,
                      clock::time_point now) = 0;
    /// After the step: `queued` are the `queued_count` items it put on the ready queue, the
    /// newest at from_back(0) (the tasks it woke: the flows of the trace).
    virtual void step(const step_record& step, ready_queue& queued, std::size_t queued_count) = 0;
};

}  // namespace aio::detail

#endif
