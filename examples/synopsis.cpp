// SPDX-License-Identifier: MIT
// synopsis: the public API of aio's core headers, one section per header — every call is
// spelled out with its types, and its comment gives the signature's meaning. README.md's "API
// synopsis" shows these sections; this file makes sure that all of them compile and run.
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

using namespace std::chrono_literals;

// ---- <aio/task.hpp> -----------------------------------------------------------------------------
// template <class T = void> class [[nodiscard]] task;   // move-only; T, T& or void
aio::task<int> forty_two() {  // async def forty_two() -> int
    co_return 42;
}

aio::task<> task_synopsis() {
    aio::task<int> t = forty_two();     // lazy: the body has not started
    bool ready = t.is_ready();          // false: the body has not finished
    bool valid = t.valid();             // true; false once moved from
    int value = co_await std::move(t);  // runs it to its end here: its value, or rethrows
    aio::task<int> u = forty_two();
    int& ref = co_await u;              // a reference into u's frame, valid while u lives
    fmt::print("task: {} {} {} {}\n", ready, valid, value, ref);
}

// ---- <aio/task_handle.hpp> ----------------------------------------------------------------------
// template <class T = void> class task_handle;   // copyable, shared: an asyncio.Task
aio::task<> task_handle_synopsis() {
    aio::task_handle<int> h = aio::create_task(forty_two());  // scheduled on the running loop
    bool done = h.done();                    // false: it starts at the next loop iteration
    int value = co_await h;                  // waits for it (any number of waiters)
    int again = h.result();                  // its value, or rethrows; invalid_state_error
                                             // while it is still running
    std::exception_ptr error = h.exception();  // nullptr: it returned normally
    bool cancelled = h.cancelled();          // true if it ended by cancellation
    bool asked = h.cancel();                 // request cancellation; false: it is done already
    fmt::print("task_handle: {} {} {} {} {} {}\n", done, value, again, error == nullptr,
               cancelled, asked);
}

// ---- <aio/event_loop.hpp> -----------------------------------------------------------------------
// class event_loop;   // one thread: a ready queue, a timer heap, and the tasks it owns
void event_loop_synopsis() {
    aio::event_loop loop;
    loop.set_debug(true);                         // report slow steps and lost tasks
    aio::callback_handle soon = loop.call_soon([] { fmt::print("event_loop: call_soon\n"); });
    aio::callback_handle later = loop.call_later(10ms, [] { fmt::print("never printed\n"); });
    later.cancel();                               // a cancelled callback never runs
    aio::event_loop::time_point now = loop.time();  // steady_clock: never jumps
    aio::task_handle<int> h = loop.create_task(forty_two());  // scheduled, not yet running
    std::size_t pending = loop.pending_tasks();   // created tasks not finished yet: 1
    int value = loop.run_until_complete(forty_two());  // runs the loop (h too) until it ends
    bool done = h.done();                         // true: h ran in the same iterations
    loop.close();                                 // drops what is pending; cannot run again
    fmt::print("event_loop: {} {} {} {} {}\n", soon.cancelled(), now <= loop.time(), pending,
               value, done);
}

// ---- <aio/sleep.hpp> ----------------------------------------------------------------------------
aio::task<> sleep_synopsis() {
    co_await aio::sleep(10ms);                                // any std::chrono::duration
    co_await aio::sleep(std::chrono::duration<double>(0.01));  // float seconds, as in Python
    co_await aio::sleep(0s);                                  // yield: others run once
    co_await aio::sleep_until(aio::event_loop::clock::now() + 10ms);  // a deadline
    fmt::print("sleep: woke up\n");
}

// ---- <aio/gather.hpp> ---------------------------------------------------------------------------
aio::task<> nothing() {
    co_return;
}

aio::task<> gather_synopsis() {
    // Arguments (tasks moved in, and/or handles): a std::tuple, void as std::monostate.
    std::tuple<int, std::monostate> both = co_await aio::gather(forty_two(), nothing());
    // A range: a std::vector, in range order. The first failure cancels the others and is
    // rethrown once every child has finished.
    std::vector<aio::task<int>> tasks;
    tasks.push_back(forty_two());
    tasks.push_back(forty_two());
    std::vector<int> values = co_await aio::gather(std::move(tasks));
    fmt::print("gather: {} {}\n", std::get<0>(both), values.size());
}

// ---- <aio/run.hpp> and <aio/errors.hpp> ---------------------------------------------------------
aio::task<> failing() {
    co_await aio::sleep(0s);
    throw std::runtime_error("boom");
}

void run_and_errors_synopsis() {
    int value = aio::run(forty_two());  // asyncio.run: a fresh loop, closed afterwards
    try {
        aio::run(failing());            // rethrows what the task threw
    } catch (const std::runtime_error& e) {
        fmt::print("run: {} {}\n", value, e.what());
    }
    try {
        aio::get_running_loop();        // no loop runs on this thread here
    } catch (const aio::event_loop_error&) {  // misuse of a loop (a std::logic_error)
        fmt::print("errors: event_loop_error\n");
    }
    // aio::invalid_state_error  result() of an unfinished task (a std::logic_error)
    // aio::timeout_error        an operation ran out of time (a std::runtime_error)
    // aio::cancelled_error      thrown into a cancelled task: NOT a std::exception
}

int main() {
    aio::run(task_synopsis());
    aio::run(task_handle_synopsis());
    event_loop_synopsis();
    aio::run(sleep_synopsis());
    aio::run(gather_synopsis());
    run_and_errors_synopsis();
}

// Expected output:
// task: false true 42 42
// task_handle: false 42 42 true false false
// event_loop: call_soon
// event_loop: false true 1 42 true
// sleep: woke up
// gather: 42 2
// run: 42 boom
// errors: event_loop_error
