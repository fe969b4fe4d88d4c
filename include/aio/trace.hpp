// SPDX-License-Identifier: MIT
// A trace of what the loop does, for Perfetto (ui.perfetto.dev) and chrome://tracing: Chrome's
// Trace Event JSON, written while the loop runs.
//
//     loop.start_trace("out.json");          (or run the program with AIO_TRACE=out.json)
//     loop.run_until_complete(main());
//     loop.stop_trace();                     (close() does it too)
//
// What it shows: a track per task (a made-up thread id, the task's serial number, named by a
// thread_name record: "Task-3" or the name given), and on it a slice per step (the task ran)
// and a slice per wait between two steps, labelled with what it waited on ("sleep (wakes in
// 2.500 s)", "aio::queue::get", "task Task-2"); callbacks run on a track of their own. A step
// that woke another task (an event set, a queue put, a task that finished and so released its
// waiter) starts an arrow (a flow) that ends on the woken task's next step. Since the loop runs
// one step at a time, the slices of a track never overlap. Times are the steady clock's, in
// microseconds from the trace's start.
//
// asyncio has no such trace (aiomonitor and the profilers come closest); it is the picture that
// C++ users of Asio and folly ask for because a suspended coroutine is invisible to a debugger.
//
// Cost: off, one predictable branch per step (the loop's debug-mode check). On, each step costs
// one JSON record or three and a hash lookup (tests/benchmarks: micro_bench's BM_traced_step);
// records go to the file in 64 KiB chunks, so memory stays bounded by the tasks alive.
//
// Lifetime rules: the trace belongs to its loop; a second start_trace ends the first. With
// AIO_TRACE, the first loop of the program writes the file named and each later loop writes
// "<path>.2", "<path>.3", ...; a file that cannot be written is reported on stderr and the loop
// runs without a trace.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_TRACE_HPP_INCLUDED
#define AIO_TRACE_HPP_INCLUDED

#include "detail/loop_tracer.hpp"
#include "detail/sync.hpp"
#include "detail/task_dump.hpp"
#include "detail/task_info.hpp"
#include "event_loop.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aio {
namespace detail {

class trace_writer final : public loop_tracer {
public:
    explicit trace_writer(const std::string& path)
        : m_file(std::fopen(path.c_str(), "w")), m_start(clock::now()) {
        if (m_file == nullptr) {
            throw std::system_error(errno, std::generic_category(),
                                    "aio::event_loop::start_trace: cannot write " + path);
        }
        // The JSON Array Format: a trace cut short (the program crashed) still loads.
        m_out = "[\n";
        m_out +=
            R"({"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"aio event loop"}})";
        m_out += ",\n";
        m_out += R"({"ph":"M","name":"thread_name","pid":1,"tid":0,"args":{"name":"callbacks"}})";
    }
    trace_writer(const trace_writer&) = delete;
    trace_writer& operator=(const trace_writer&) = delete;
    ~trace_writer() override {
        m_out += "\n]\n";
        flush();
        std::fclose(m_file);
    }

    void step(const step_record& s, ready_queue& queued, std::size_t queued_count) override {
        const double start = micros(s.started);
        const double end = micros(s.ended);
        const std::uint64_t tid = s.task != nullptr ? track_of(*s.task)
                                  : s.ran_tasks     ? m_gone_tid
                                                    : 0;
        if (s.item != 0) {  // an arrow from the step that queued this one, if a step did
            if (const auto waker = m_wakers.find(s.item); waker != m_wakers.end()) {
                if (waker->second.tid != tid) {  // not a task that re-queued itself (a yield)
                    const std::uint64_t id = ++m_flows;
                    flow('s', id, waker->second.tid, waker->second.ts);
                    flow('f', id, tid, start);
                }
                m_wakers.erase(waker);
            }
        }
        // Each task that ran: its wait until now, then this step, on its own track. The last
        // of them is the step's task; the others ran inside it (gather children it started).
        for (std::size_t i = s.roots->size(); i-- > 0;) {
            if (const task_root* task = (*s.roots)[i]) {
                ran(*task, start, end);
            }
        }
        for (const task_root* finished : m_finished) {
            m_tasks.erase(finished);
        }
        m_finished.clear();
        if (!s.ran_tasks) {
            slice(0, start, end - start, s.callback ? "callback" : "step (a task not aio's)",
                  "step");
        }
        // The tasks this step woke: each resumed frame it queued starts an arrow, drawn when
        // that frame runs (then both ends are known).
        for (std::size_t k = queued_count; k-- > 0;) {
            const std::uintptr_t item = queued.from_back(k);
            if (kind_of(item) == ready_kind::start_task) {
                --k;  // a run of starts is two items; the second is a count, not a frame
                continue;
            }
            if (kind_of(item) == ready_kind::resume && s.ran_tasks) {
                m_wakers[item] = {tid, start + (end - start) / 2};
            }
        }
        ++m_steps;
        if (m_out.size() >= chunk) {
            flush();
        }
    }

    void gone(const task_root& task, bool ran_now, clock::time_point started,
              clock::time_point now) override {
        if (ran_now) {
            m_gone_tid = track_of(task);
            ran(task, micros(started), micros(now));
        }
        m_tasks.erase(&task);
        std::erase(m_finished, &task);
    }

private:
    static constexpr std::size_t chunk = 64 * 1024;
    struct task_state {
        double parked_at = 0;
        std::string waiting_on;  // empty: not parked in an aio wait
        std::uint64_t last_step = 0;
    };

    // `task` ran in the current step (from `start` to `end`).
    void ran(const task_root& task, double start, double end) {
        const std::uint64_t tid = track_of(task);
        task_state& state = m_tasks[&task];
        if (state.last_step == m_steps) {
            return;  // listed twice in this step
        }
        state.last_step = m_steps;
        if (!state.waiting_on.empty()) {  // the wait this step ended
            slice(tid, state.parked_at, start - state.parked_at, "wait: " + state.waiting_on,
                  "wait");
        }
        slice(tid, start, end - start, "step", "step");
        if (task.done()) {
            m_finished.push_back(&task);
        } else {
            state.parked_at = end;
            state.waiting_on = describe_wait(task).what;
        }
    }

    double micros(clock::time_point t) const {
        return std::chrono::duration<double, std::micro>(t - m_start).count();
    }
    // The track of `task`: its serial number (named on first use).
    std::uint64_t track_of(const task_root& task) {
        const std::uint32_t serial = task_serial(task);
        const std::uint64_t tid = serial != 0 ? serial : ++m_anonymous + (std::uint64_t{1} << 32);
        if (m_tasks.try_emplace(&task).second) {  // first seen: name its track
            m_out += ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":";
            m_out += std::to_string(tid);
            m_out += ",\"args\":{\"name\":";
            append_string(task_name(task));
            m_out += "}}";
        }
        return tid;
    }
    void slice(std::uint64_t tid, double ts, double dur, const std::string& name,
               const char* category) {
        char head[160];
        std::snprintf(
            head, sizeof head,
            ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%llu,\"ts\":%.3f,\"dur\":%.3f,\"cat\":\"%s\","
            "\"name\":",
            static_cast<unsigned long long>(tid), ts, dur < 0 ? 0.0 : dur, category);
        m_out += head;
        append_string(name);
        m_out += '}';
    }
    void flow(char phase, std::uint64_t id, std::uint64_t tid, double ts) {
        char text[160];
        std::snprintf(text, sizeof text,
                      ",\n{\"ph\":\"%c\",\"pid\":1,\"tid\":%llu,\"ts\":%.3f,\"id\":%llu,"
                      "\"cat\":\"wake\",\"name\":\"wake\"%s}",
                      phase, static_cast<unsigned long long>(tid), ts,
                      static_cast<unsigned long long>(id), phase == 'f' ? ",\"bp\":\"e\"" : "");
        m_out += text;
    }
    // A JSON string: quotes, backslashes and control characters escaped.
    void append_string(const std::string& text) {
        m_out += '"';
        for (const char c : text) {
            if (c == '"' || c == '\\') {
                m_out += '\\';
                m_out += c;
            } else if (static_cast<unsigned char>(c) < 0x20) {
                char escaped[8];
                std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
                m_out += escaped;
            } else {
                m_out += c;
            }
        }
        m_out += '"';
    }
    void flush() noexcept {
        (void)std::fwrite(m_out.data(), 1, m_out.size(), m_file);
        m_out.clear();
    }

    std::FILE* m_file;
    clock::time_point m_start;
    std::string m_out;  // records not written yet (up to a chunk)
    std::unordered_map<const task_root*, task_state> m_tasks;  // tasks seen, not finished
    struct waker {
        std::uint64_t tid;  // the track of the step that queued a frame
        double ts;          // a moment inside that step
    };
    std::unordered_map<std::uintptr_t, waker> m_wakers;  // queued frame -> who queued it
    std::vector<const task_root*> m_finished;            // ran in this step and finished
    std::uint64_t m_steps = 1;                           // the step running (task_state::last_step)
    std::uint64_t m_gone_tid = 0;  // the track of the last task gone in this step
    std::uint64_t m_flows = 0;
    std::uint64_t m_anonymous = 0;
};

// AIO_TRACE: the first loop writes `path`, later ones `path.2`, `path.3`, ...
inline void start_trace_for_environment(event_loop& loop, const char* path) {
    static atomic<unsigned> loops{0};
    const unsigned n = loops.fetch_add(1, memory_order_relaxed) + 1;
    const std::string file = n == 1 ? std::string(path) : path + ("." + std::to_string(n));
    try {
        loop.start_trace(file);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aio: AIO_TRACE: %s; running without a trace\n", e.what());
    }
}

// Seen by event_loop's constructor (event_loop.hpp): set as soon as this header is included.
inline const bool trace_from_environment_registered =
    (start_trace_from_environment = &start_trace_for_environment, true);

}  // namespace detail

inline void event_loop::start_trace(const std::string& path) {
    check_open("start_trace");
    m_observer.tracer.reset();  // a second trace ends the first
    m_observer.tracer = detail::make_owning<detail::trace_writer>(path);
    update_observing();
}

inline void event_loop::stop_trace() {
    check_thread("stop_trace");
    m_observer.tracer.reset();
    update_observing();
}

}  // namespace aio

#endif
