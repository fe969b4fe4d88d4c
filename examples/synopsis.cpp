// SPDX-License-Identifier: MIT
// synopsis: the public API of aio, one section per header — every call is
// spelled out with its types, and its comment gives the signature's meaning. README.md's "API
// synopsis" shows these sections; this file makes sure that all of them compile and run.
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cstddef>
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
// class event_loop;   // one thread: a ready queue, a timer wheel, and the tasks it owns
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
    // aio::keyboard_interrupt   Ctrl-C ended aio::run: NOT a std::exception either
}

// ---- Cancellation: <aio/task_handle.hpp> and <aio/errors.hpp> -----------------------------------
aio::task<> flush() {  // cleanup that has to co_await
    co_await aio::sleep(1ms);
}

aio::task<int> worker() {
    std::exception_ptr cancelled;
    try {
        co_await aio::sleep(1h);               // cancel() interrupts this sleep at once
    } catch (const aio::cancelled_error&) {    // not a std::exception: caught by its name
        cancelled = std::current_exception();  // a handler cannot co_await: keep the error,
    }
    if (cancelled) {
        co_await flush();                      // clean up outside the handler,
        fmt::print("cancel: cleaned up\n");
        std::rethrow_exception(cancelled);     // and let it end the task (Python's `raise`)
    }
    co_return 1;
}

aio::task<> cancel_synopsis() {
    aio::task_handle<int> h = aio::create_task(worker());
    co_await aio::sleep(0s);                 // one iteration: the worker starts, then sleeps
    bool asked = h.cancel();                 // true: requested; false once the task is done
    unsigned requests = h.cancelling();      // 1: requests so far (Task.cancelling)
    bool cancelled = false;
    try {
        co_await h;                          // waits for its cleanup, then rethrows
    } catch (const aio::cancelled_error&) {
        cancelled = h.cancelled();           // true: it ended by cancellation
    }
    unsigned left = h.uncancel();            // 0: one request withdrawn (Task.uncancel)
    fmt::print("cancel: {} {} {} {}\n", asked, requests, cancelled, left);
}

// ---- <aio/wait_for.hpp> -------------------------------------------------------------------------
aio::task<int> slow() {
    co_await aio::sleep(1h);
    co_return 1;
}

aio::task<> wait_for_synopsis() {
    try {
        co_await aio::wait_for(slow(), 10ms);  // a task, a handle or a movable awaitable
    } catch (const aio::timeout_error&) {      // slow() was cancelled and has finished
        fmt::print("wait_for: timed out\n");
    }
    int value = co_await aio::wait_for(forty_two(), 1s);  // in time: its value
    aio::event_loop::time_point deadline = aio::event_loop::clock::now() + 1s;
    co_await aio::wait_until(aio::sleep(1ms), deadline);  // a deadline (asyncio.timeout_at)
    fmt::print("wait_for: {}\n", value);
}

// ---- <aio/shield.hpp> ---------------------------------------------------------------------------
aio::task<int> save() {  // must not be cut short
    co_await aio::sleep(10ms);
    co_return 7;
}

aio::task<int> impatient(aio::task_handle<int> saving) {
    int value = co_await aio::shield(saving);  // shield(task) also works: it creates the task
    co_return value;
}

aio::task<> shield_synopsis() {
    aio::task_handle<int> saving = aio::create_task(save());
    aio::task_handle<int> waiter = aio::create_task(impatient(saving));
    co_await aio::sleep(0s);
    waiter.cancel();                  // the waiter stops waiting at once (cancelled_error)...
    int value = co_await saving;      // ...but the shielded save() runs on: 7
    fmt::print("shield: {} {}\n", waiter.cancelled(), value);
}

// ---- <aio/wait.hpp> -----------------------------------------------------------------------------
aio::task<int> after(std::chrono::milliseconds delay, int value) {
    co_await aio::sleep(delay);
    co_return value;
}

aio::task<> wait_synopsis() {
    std::vector<aio::task_handle<int>> tasks;  // wait and as_completed take created tasks
    tasks.push_back(aio::create_task(after(1h, 2)));
    tasks.push_back(aio::create_task(after(10ms, 1)));
    // {done, pending}, each in the order given. Also first_exception and all_completed (the
    // default). Nothing is cancelled: the pending tasks keep running.
    aio::wait_result<int> first = co_await aio::wait(tasks, aio::return_when::first_completed);
    // With a timeout: returns when all are done, or after 20 ms with some still pending.
    auto [done, pending] = co_await aio::wait(tasks, 20ms);
    for (aio::task_handle<int>& t : pending) {
        t.cancel();                            // given up on: cancelling is up to you
    }
    fmt::print("wait: {} {} {} {}\n", first.done.size(), first.pending.size(), done.size(),
               pending.size());

    std::vector<aio::task_handle<int>> racers;
    racers.push_back(aio::create_task(after(60ms, 2)));
    racers.push_back(aio::create_task(after(10ms, 1)));
    aio::as_completed order(racers);           // asyncio.as_completed
    for (std::size_t i = 0; i < order.size(); ++i) {
        aio::task_handle<int> next = co_await order.next();  // the next one to finish
        fmt::print("as_completed: {}\n", next.result());
    }
}

// ---- <aio/task_group.hpp> -----------------------------------------------------------------------
aio::task<> task_group_synopsis() {
    aio::task_group tg;                                         // async with TaskGroup() as tg:
    aio::task_handle<int> a = tg.create_task(after(10ms, 1));  //     tg.create_task(...)
    aio::task_handle<int> b = tg.create_task(forty_two());
    co_await tg;                                                // end of the block: all done
    fmt::print("task_group: {} {}\n", a.result(), b.result());

    aio::task_group failing_group;
    aio::task_handle<int> sleeper = failing_group.create_task(after(1h, 0));
    failing_group.create_task(failing());  // throws: the group cancels the sleeper
    try {
        co_await failing_group;                 // once every child has finished:
    } catch (const aio::task_group_error& e) {  // every failure (asyncio's ExceptionGroup)
        fmt::print("task_group: {} {}\n", e.exceptions().size(), sleeper.cancelled());
    }
}

// ---- <aio/gather.hpp> with aio::return_exceptions, and <aio/outcome.hpp> ------------------------
aio::task<> outcome_synopsis() {
    // asyncio.gather(..., return_exceptions=True): every child runs to its end, nothing is
    // cancelled, and nothing thrown by a child reaches us: each gives an aio::outcome<T>.
    std::tuple<aio::outcome<int>, aio::outcome<void>> results =
        co_await aio::gather(aio::return_exceptions, forty_two(), failing());
    aio::outcome<int>& ok = std::get<0>(results);
    aio::outcome<void>& bad = std::get<1>(results);
    bool has_value = ok.has_value();         // true; so is `if (ok)`
    int value = *ok;                         // the value; value() too (rethrows if none)
    std::exception_ptr error = bad.error();  // the runtime_error; nullptr for a value
    bool cancelled = bad.cancelled();        // false: it failed, nobody cancelled it
    // A range gives a std::vector<aio::outcome<T>>. Cancelling the task that awaits the
    // gather still throws aio::cancelled_error there: it is never returned as an outcome.
    std::vector<aio::task<int>> tasks;
    tasks.push_back(forty_two());
    std::vector<aio::outcome<int>> all =
        co_await aio::gather(aio::return_exceptions, std::move(tasks));
    fmt::print("outcome: {} {} {} {} {}\n", has_value, value, error != nullptr, cancelled,
               all.size());
}

// ---- Virtual time: <aio/event_loop.hpp> and <aio/run.hpp> --------------------------------------
aio::task<> sleep_a_day() {
    co_await aio::sleep(24h);
}

void virtual_time_synopsis() {
    aio::event_loop loop{aio::virtual_time};  // a clock that moves only when the loop says so
    aio::event_loop::time_point start = loop.time();  // starts at steady_clock::now()
    loop.run_until_complete(sleep_a_day());      // autojump: nothing ready -> the next timer, now
    bool exact = loop.time() - start == 24h;     // true: virtual time is exact
    loop.advance(1h);                            // moves the clock; due timers fire next iteration
    bool is_virtual = loop.uses_virtual_time();  // true; false for a loop on real time
    aio::event_loop manual{aio::virtual_time_t{.autojump = false}};  // only advance() moves it
    aio::run(sleep_a_day(), aio::virtual_time);  // aio::run on a loop with virtual time
    fmt::print("virtual time: {} {} {}\n", exact, is_virtual, manual.time() <= loop.time());
}

// ---- Seeing what the loop does: <aio/any_task_handle.hpp> and <aio/trace.hpp> ------------------
aio::task<> introspection_synopsis() {
    aio::event_loop& loop = aio::get_running_loop();
    aio::event never_set;
    aio::task_handle<void> waiter =
        aio::create_task([](aio::event& e) -> aio::task<> { co_await e.wait(); }(never_set),
                         "waiter");                 // a name (default: "Task-N")
    co_await aio::sleep(0s);                        // let it start and park
    aio::any_task_handle me = co_await aio::current_task();  // asyncio.current_task()
    std::vector<aio::any_task_handle> all = loop.all_tasks();  // pending, in creation order
    std::string what = all[1].waiting_on();         // "aio::event::wait"
    std::string report = loop.tasks_report();       // what loop.print_tasks() prints
    waiter.set_name("renamed");                     // Task.set_name
    bool tracing = loop.is_tracing();               // loop.start_trace(path) / stop_trace()
    waiter.cancel();
    fmt::print("introspection: {} {} {} {} {} {}\n", me.get_name().starts_with("Task-"),
               all.size(), what, report.find("waiter") != std::string::npos, waiter.get_name(),
               tracing);
}

int main() {
    aio::run(task_synopsis());
    aio::run(task_handle_synopsis());
    event_loop_synopsis();
    aio::run(sleep_synopsis());
    aio::run(gather_synopsis());
    run_and_errors_synopsis();
    aio::run(cancel_synopsis());
    aio::run(wait_for_synopsis());
    aio::run(shield_synopsis());
    aio::run(wait_synopsis());
    aio::run(task_group_synopsis());
    aio::run(outcome_synopsis());
    virtual_time_synopsis();
    aio::run(introspection_synopsis());
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
// cancel: cleaned up
// cancel: true 1 true 0
// wait_for: timed out
// wait_for: 42
// shield: true 7
// wait: 1 1 1 1
// as_completed: 1
// as_completed: 2
// task_group: 1 42
// task_group: 1 true
// outcome: true 42 true false 1
// virtual time: true true true
// introspection: true 2 aio::event::wait true renamed false
