// SPDX-License-Identifier: MIT
// Regression tests for issue #10 ("Reliability: defects found by a hostile test of the public
// API"), one behaviour per test, every wait kind the library has where a defect concerned
// them all: handles that outlive their loop, cancel() then uncancel() on an interrupted wait,
// two tasks awaiting as_completed's next() at once, awaiting a task of another loop, a child's
// exception lost to the waiter's cancellation, empty handles, and a task awaiting itself.
//
// Scenarios are coroutines that return what they observed; the CHECKs stay outside.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/contains.hpp"
#include "helpers/counted.hpp"
#include "helpers/test_tasks.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/aio.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <iterator>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

/// Every way a task can be suspended in aio.
enum class wait_kind {
    sleep,
    sleep_until,
    handle,          // co_await of another task's handle
    shield,          // co_await aio::shield(handle)
    gather_args,     // gather of task arguments
    gather_range,    // gather of a vector of tasks
    gather_handles,  // gather of a vector of handles
    wait_for,
    wait_until,
    wait_all,      // aio::wait, return_when::all_completed
    wait_timeout,  // aio::wait with a timeout (its timer is a loop hook)
    as_completed,
    task_group,
};

constexpr wait_kind all_wait_kinds[] = {
    wait_kind::sleep,          wait_kind::sleep_until,  wait_kind::handle,
    wait_kind::shield,         wait_kind::gather_args,  wait_kind::gather_range,
    wait_kind::gather_handles, wait_kind::wait_for,     wait_kind::wait_until,
    wait_kind::wait_all,       wait_kind::wait_timeout, wait_kind::as_completed,
    wait_kind::task_group,
};

const char* name_of(wait_kind kind) {
    switch (kind) {
    case wait_kind::sleep:
        return "sleep";
    case wait_kind::sleep_until:
        return "sleep_until";
    case wait_kind::handle:
        return "handle";
    case wait_kind::shield:
        return "shield";
    case wait_kind::gather_args:
        return "gather_args";
    case wait_kind::gather_range:
        return "gather_range";
    case wait_kind::gather_handles:
        return "gather_handles";
    case wait_kind::wait_for:
        return "wait_for";
    case wait_kind::wait_until:
        return "wait_until";
    case wait_kind::wait_all:
        return "wait_all";
    case wait_kind::wait_timeout:
        return "wait_timeout";
    case wait_kind::as_completed:
        return "as_completed";
    case wait_kind::task_group:
        return "task_group";
    }
    return "?";
}

aio::task<void> nap(std::chrono::milliseconds delay) {
    co_await aio::sleep(delay);
}

/// Bumped by a scenario's task where the test must wait for it (instead of guessing a delay,
/// which a loaded machine can outlast); the test resets it first.
int arrived = 0;

/// Waits (at most ten seconds) until `arrived` reaches `count`, then one iteration more.
aio::task<void> until_arrived(int count) {
    const steady::time_point give_up = steady::now() + 10s;
    while (arrived < count && steady::now() < give_up) {
        co_await aio::sleep(1ms);
    }
    co_await aio::sleep(0ms);
}

aio::task<int> sleep_an_hour(counted c) {
    co_await aio::sleep(1h);
    (void)c;
    co_return 1;
}

std::vector<aio::task_handle<int>> two_sleeping_tasks() {
    std::vector<aio::task_handle<int>> tasks;
    tasks.push_back(aio::create_task(sleep_an_hour(counted(101))));
    tasks.push_back(aio::create_task(sleep_an_hour(counted(102))));
    return tasks;
}

/// Suspends the calling task for an hour in the given kind of wait; bumps `arrived` as it
/// begins (its first step then runs to the suspension).
aio::task<void> wait_an_hour(wait_kind kind) {
    const auto far = 1h;
    ++arrived;
    switch (kind) {
    case wait_kind::sleep:
        co_await aio::sleep(far);
        break;
    case wait_kind::sleep_until: {
        const aio::event_loop::time_point deadline = aio::event_loop::clock::now() + far;
        co_await aio::sleep_until(deadline);
        break;
    }
    case wait_kind::handle: {
        aio::task_handle<int> target = aio::create_task(sleep_an_hour(counted(100)));
        (void)co_await target;
        break;
    }
    case wait_kind::shield: {
        aio::task_handle<int> target = aio::create_task(sleep_an_hour(counted(100)));
        (void)co_await aio::shield(target);
        break;
    }
    case wait_kind::gather_args: {
        aio::task<int> a = sleep_an_hour(counted(101));
        aio::task<int> b = sleep_an_hour(counted(102));
        (void)co_await aio::gather(std::move(a), std::move(b));
        break;
    }
    case wait_kind::gather_range: {
        std::vector<aio::task<int>> tasks;
        tasks.push_back(sleep_an_hour(counted(101)));
        tasks.push_back(sleep_an_hour(counted(102)));
        (void)co_await aio::gather(std::move(tasks));
        break;
    }
    case wait_kind::gather_handles: {
        std::vector<aio::task_handle<int>> tasks = two_sleeping_tasks();
        (void)co_await aio::gather(tasks);
        break;
    }
    case wait_kind::wait_for: {
        aio::task<int> work = sleep_an_hour(counted(100));
        (void)co_await aio::wait_for(std::move(work), 2h);
        break;
    }
    case wait_kind::wait_until: {
        aio::task<int> work = sleep_an_hour(counted(100));
        const aio::event_loop::time_point deadline = aio::event_loop::clock::now() + 2h;
        (void)co_await aio::wait_until(std::move(work), deadline);
        break;
    }
    case wait_kind::wait_all: {
        std::vector<aio::task_handle<int>> tasks = two_sleeping_tasks();
        (void)co_await aio::wait(tasks);
        break;
    }
    case wait_kind::wait_timeout: {
        std::vector<aio::task_handle<int>> tasks = two_sleeping_tasks();
        (void)co_await aio::wait(tasks, 2h);
        break;
    }
    case wait_kind::as_completed: {
        std::vector<aio::task_handle<int>> tasks = two_sleeping_tasks();
        aio::as_completed order(tasks);
        (void)co_await order.next();
        break;
    }
    case wait_kind::task_group: {
        aio::task_group group;
        (void)group.create_task(sleep_an_hour(counted(101)));
        (void)group.create_task(sleep_an_hour(counted(102)));
        co_await group;
        break;
    }
    }
}

aio::task<void> waiter(wait_kind kind, counted c) {
    co_await wait_an_hour(kind);
    (void)c;
}

}  // namespace

// Defect 1: once its loop is gone, a handle's cancel() touches nothing and returns false, and
// dropping the last handle destroys the frame (and what it waits on) without touching the loop.
TEST_CASE("a handle that outlives its loop can be cancelled and dropped whatever its task "
          "waits on",
          "[event_loop][issue10]") {
    const wait_kind kind =
        GENERATE(from_range(std::begin(all_wait_kinds), std::end(all_wait_kinds)));
    const bool cancel_first = GENERATE(true, false);
    CAPTURE(name_of(kind), cancel_first);
    counted::reset_counts();
    arrived = 0;
    aio::task_handle<void> survivor;
    {
        aio::event_loop loop;
        survivor = loop.create_task(waiter(kind, counted(1)));
        loop.run_until_complete(until_arrived(1));  // the waiter is suspended in its wait
        REQUIRE_FALSE(survivor.done());
    }
    CHECK(counted::alive() >= 1);
    if (cancel_first) {
        CHECK_FALSE(survivor.cancel());
        CHECK(survivor.cancelling() == 0);
    }
    CHECK_FALSE(survivor.done());
    survivor = aio::task_handle<void>{};
    CHECK(counted::alive() == 0);
}

// Defect 1: a closed loop (not yet destroyed) detaches its tasks the same way.
TEST_CASE("cancel() of a task whose loop was closed returns false and changes nothing",
          "[event_loop][issue10]") {
    aio::event_loop loop;
    arrived = 0;
    aio::task_handle<void> sleeper = loop.create_task(waiter(wait_kind::sleep, counted(1)));
    loop.run_until_complete(until_arrived(1));
    aio::task_handle<void> unstarted = loop.create_task(nap(1ms));
    loop.close();
    CHECK_FALSE(sleeper.cancel());
    CHECK_FALSE(unstarted.cancel());
    CHECK(sleeper.cancelling() == 0);
    CHECK(unstarted.cancelling() == 0);
    CHECK_FALSE(sleeper.done());
    CHECK_FALSE(unstarted.done());
    CHECK(aio::detail::core_of(loop).timer_count() == 0);
}

namespace {

struct interrupted_outcome {
    bool cancelled_at_the_wait = false;  // the wait threw cancelled_error
    bool returned = false;               // the wait returned normally
    bool task_cancelled = false;         // the task ended cancelled
    steady::duration elapsed{};
};

aio::task<void> note_how_the_wait_ends(wait_kind kind, interrupted_outcome& out) {
    try {
        co_await wait_an_hour(kind);
        out.returned = true;
    } catch (const aio::cancelled_error&) {
        out.cancelled_at_the_wait = true;
        throw;
    }
}

aio::task<interrupted_outcome> cancel_then_uncancel(wait_kind kind) {
    interrupted_outcome out;
    const steady::time_point start = steady::now();
    aio::task_handle<void> h = aio::create_task(note_how_the_wait_ends(kind, out));
    co_await until_arrived(1);  // h is suspended in its wait
    h.cancel();
    h.uncancel();  // before h runs again: the wait was interrupted already
    try {
        co_await aio::wait_for(h, 10s);  // a regression must fail, not hang
    } catch (const aio::cancelled_error&) {
    } catch (const aio::timeout_error&) {
    }
    out.task_cancelled = h.cancelled();
    out.elapsed = steady::now() - start;
    co_return out;
}

}  // namespace

// Defect 2: asyncio 3.11 delivers CancelledError at the interrupted wait whatever uncancel()
// does afterwards; the interrupted wait delivers it itself, not through the must-cancel flag.
TEST_CASE("a wait interrupted by cancel() throws cancelled_error even if uncancel() follows "
          "before the task resumes",
          "[cancel][issue10]") {
    const wait_kind kind =
        GENERATE(from_range(std::begin(all_wait_kinds), std::end(all_wait_kinds)));
    CAPTURE(name_of(kind));
    arrived = 0;
    const interrupted_outcome out = run_virtual(cancel_then_uncancel(kind));
    CHECK(out.cancelled_at_the_wait);
    CHECK_FALSE(out.returned);
    CHECK(out.task_cancelled);
    CHECK(out.elapsed < 5s);
}

namespace {

struct next_outcome {
    int value = -1;
    bool refused = false;    // invalid_state_error at co_await next()
    bool cancelled = false;  // cancelled_error at co_await next()
};

aio::task<void> take_next(aio::as_completed<int>& order, next_outcome& out) {
    try {
        aio::task_handle<int> t = co_await order.next();
        out.value = t.result();
    } catch (const aio::invalid_state_error&) {
        out.refused = true;
    } catch (const aio::cancelled_error&) {
        out.cancelled = true;
        throw;
    }
}

struct concurrent_next_outcome {
    next_outcome first;
    next_outcome second;
    std::vector<int> later;  // what next() yields afterwards, awaited by the owner
};

aio::task<concurrent_next_outcome> two_tasks_await_next(bool cancel_first) {
    concurrent_next_outcome out;
    std::vector<aio::task_handle<int>> tasks;
    tasks.push_back(aio::create_task(value_after(150ms, 2)));
    tasks.push_back(aio::create_task(value_after(100ms, 1)));
    aio::as_completed order(tasks);
    aio::task_handle<void> first = aio::create_task(take_next(order, out.first));
    co_await aio::sleep(0ms);  // the first starts and waits in next()
    aio::task_handle<void> second = aio::create_task(take_next(order, out.second));
    co_await aio::sleep(0ms);  // the second starts and tries
    if (cancel_first) {
        first.cancel();
    }
    try {
        co_await first;
    } catch (const aio::cancelled_error&) {
    }
    co_await second;
    while (order.remaining() > 0) {
        aio::task_handle<int> t = co_await order.next();
        out.later.push_back(t.result());
    }
    co_return out;
}

}  // namespace

// Defect 3: next() serves one waiter at a time; a second concurrent await is refused at once
// and leaves the first waiter as it was (resumed by the next completion, or cancellable).
TEST_CASE("a second task awaiting as_completed's next() while another waits gets "
          "invalid_state_error and the first is unaffected",
          "[wait][issue10]") {
    SECTION("the first gets the next task to finish") {
        const concurrent_next_outcome out = run_virtual(two_tasks_await_next(false));
        CHECK(out.second.refused);
        CHECK(out.first.value == 1);
        CHECK_FALSE(out.first.refused);
        CHECK(out.later == std::vector<int>{2});
    }
    SECTION("the first can still be cancelled, and nothing is handed out twice or lost") {
        const concurrent_next_outcome out = run_virtual(two_tasks_await_next(true));
        CHECK(out.second.refused);
        CHECK(out.first.cancelled);
        CHECK(out.later == std::vector<int>{1, 2});
    }
}

namespace {

enum class foreign_wait {
    handle,
    shield,
    gather_args,
    gather_range,
    wait_for,
    wait,
    as_completed,
};

constexpr foreign_wait all_foreign_waits[] = {
    foreign_wait::handle,       foreign_wait::shield,   foreign_wait::gather_args,
    foreign_wait::gather_range, foreign_wait::wait_for, foreign_wait::wait,
    foreign_wait::as_completed,
};

const char* name_of(foreign_wait kind) {
    switch (kind) {
    case foreign_wait::handle:
        return "handle";
    case foreign_wait::shield:
        return "shield";
    case foreign_wait::gather_args:
        return "gather_args";
    case foreign_wait::gather_range:
        return "gather_range";
    case foreign_wait::wait_for:
        return "wait_for";
    case foreign_wait::wait:
        return "wait";
    case foreign_wait::as_completed:
        return "as_completed";
    }
    return "?";
}

struct foreign_outcome {
    bool refused = false;        // event_loop_error at the await, inside the task
    bool local_started = false;  // a task child of the refused gather ran
};

aio::task<int> note_start(bool& started) {
    started = true;
    co_return 0;
}

aio::task<foreign_outcome> await_foreign(foreign_wait kind, aio::task_handle<int> other) {
    foreign_outcome out;
    try {
        switch (kind) {
        case foreign_wait::handle:
            (void)co_await other;
            break;
        case foreign_wait::shield:
            (void)co_await aio::shield(other);
            break;
        case foreign_wait::gather_args: {
            aio::task<int> local = note_start(out.local_started);
            (void)co_await aio::gather(std::move(local), other);
            break;
        }
        case foreign_wait::gather_range: {
            std::vector<aio::task_handle<int>> handles{other};
            (void)co_await aio::gather(handles);
            break;
        }
        case foreign_wait::wait_for:
            (void)co_await aio::wait_for(other, 1h);
            break;
        case foreign_wait::wait: {
            std::vector<aio::task_handle<int>> handles{other};
            (void)co_await aio::wait(handles);
            break;
        }
        case foreign_wait::as_completed: {
            std::vector<aio::task_handle<int>> handles{other};
            aio::as_completed order(handles);
            (void)co_await order.next();
            break;
        }
        }
    } catch (const aio::event_loop_error&) {
        out.refused = true;
    }
    co_return out;
}

}  // namespace

// Defect 4: asyncio refuses a future "attached to a different loop"; aio refuses, at the
// await, to wait for an unfinished task of another loop, which would resume the waiter there.
TEST_CASE("awaiting a task that runs on another loop throws event_loop_error at the await",
          "[task_handle][issue10]") {
    const foreign_wait kind =
        GENERATE(from_range(std::begin(all_foreign_waits), std::end(all_foreign_waits)));
    CAPTURE(name_of(kind));
    aio::event_loop b;
    aio::task_handle<int> on_b = b.create_task(value_after(1ms, 7));
    aio::event_loop a;
    const foreign_outcome out = a.run_until_complete(await_foreign(kind, on_b));
    CHECK(out.refused);
    CHECK_FALSE(out.local_started);
    CHECK_FALSE(on_b.done());
    CHECK(on_b.cancelling() == 0);
    CHECK(b.run_until_complete(await_foreign(kind, on_b)).refused == false);  // its own loop
    CHECK(on_b.result() == 7);
}

// Defect 4: a task of a closed loop will never finish: awaiting it is refused the same way.
TEST_CASE("awaiting a task whose loop was closed throws event_loop_error at the await",
          "[task_handle][issue10]") {
    aio::task_handle<int> orphan;
    {
        aio::event_loop gone;
        orphan = gone.create_task(value_after(1ms, 7));
    }
    aio::event_loop loop;
    CHECK(loop.run_until_complete(await_foreign(foreign_wait::handle, orphan)).refused);
}

namespace {

aio::task<int> fail_when_cancelled(std::string what) {
    ++arrived;
    try {
        co_await aio::sleep(1h);
    } catch (const aio::cancelled_error&) {
        throw std::runtime_error(what);  // the cleanup fails
    }
    co_return 0;
}

/// Cleans up after the gather's cancellation until cancelled once more (so that the gather is
/// still waiting when its own waiter is cancelled).
aio::task<int> slow_cleanup() {
    bool cancelled = false;
    try {
        co_await aio::sleep(1h);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        ++arrived;
        co_await aio::sleep(1h);  // the second cancellation ends it
    }
    co_return 0;
}

enum class lossy_wait { gather_args, gather_range, gather_handle, wait_for, wait_for_handle };

constexpr lossy_wait all_lossy_waits[] = {
    lossy_wait::gather_args, lossy_wait::gather_range,    lossy_wait::gather_handle,
    lossy_wait::wait_for,    lossy_wait::wait_for_handle,
};

aio::task<void> wait_on_failing_cleanup(lossy_wait kind) {
    switch (kind) {
    case lossy_wait::gather_args: {
        aio::task<int> a = fail_when_cancelled("cleanup failed");
        aio::task<int> b = sleep_an_hour(counted(1));
        (void)co_await aio::gather(std::move(a), std::move(b));
        break;
    }
    case lossy_wait::gather_range: {
        std::vector<aio::task<int>> tasks;
        tasks.push_back(sleep_an_hour(counted(1)));
        tasks.push_back(fail_when_cancelled("cleanup failed"));
        (void)co_await aio::gather(std::move(tasks));
        break;
    }
    case lossy_wait::gather_handle: {
        aio::task_handle<int> child = aio::create_task(fail_when_cancelled("cleanup failed"));
        (void)co_await aio::gather(child);
        break;
    }
    case lossy_wait::wait_for: {
        aio::task<int> work = fail_when_cancelled("cleanup failed");
        (void)co_await aio::wait_for(std::move(work), 1h);
        break;
    }
    case lossy_wait::wait_for_handle: {
        aio::task_handle<int> work = aio::create_task(fail_when_cancelled("cleanup failed"));
        (void)co_await aio::wait_for(work, 1h);
        break;
    }
    }
}

/// A child fails on its own; while its sibling still cleans up, the waiter is cancelled.
aio::task<void> wait_on_failure_then_cancelled() {
    aio::task<int> a = fail_after(1ms, "failed first");
    aio::task<int> b = slow_cleanup();
    (void)co_await aio::gather(std::move(a), std::move(b));
}

/// Runs `body` as a task, cancels it once `arrived` is 1, and says whether it ended cancelled.
aio::task<bool> cancel_waiter(aio::task<void> body) {
    arrived = 0;
    aio::task_handle<void> h = aio::create_task(std::move(body));
    co_await until_arrived(1);
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
    }
    co_return h.cancelled();
}

}  // namespace

// Defect 6: the waiter gets cancelled_error as documented, and a child's exception that it
// thereby never delivers is reported on stderr (asyncio: "Task exception was never retrieved").
TEST_CASE("a child's exception that a cancelled gather or wait_for cannot deliver is reported "
          "on stderr",
          "[gather][wait_for][issue10]") {
    const lossy_wait kind =
        GENERATE(from_range(std::begin(all_lossy_waits), std::end(all_lossy_waits)));
    CAPTURE(static_cast<int>(kind));
    capture_stderr capture;
    const bool cancelled = run_virtual(cancel_waiter(wait_on_failing_cleanup(kind)));
    const std::string text = capture.stop();
    CHECK(cancelled);
    INFO(text);
    CHECK(contains(text, "exception was never retrieved: cleanup failed"));
    CHECK(text.find("cleanup failed") == text.rfind("cleanup failed"));  // reported once
}

// Defect 6: the same for a failure the gather had recorded before its waiter was cancelled.
TEST_CASE("a gather child's failure is reported on stderr when the waiter is cancelled before "
          "the gather could rethrow it",
          "[gather][issue10]") {
    capture_stderr capture;
    const bool cancelled = run_virtual(cancel_waiter(wait_on_failure_then_cancelled()));
    const std::string text = capture.stop();
    CHECK(cancelled);
    CHECK(contains(text, "exception was never retrieved: failed first"));
}

namespace {

aio::task<int> fail_noting(std::string what) {
    co_await aio::sleep(0ms);
    ++arrived;
    throw std::runtime_error(what);
}

aio::task<void> collect_then_cancelled(bool range) {
    if (range) {
        std::vector<aio::task<int>> tasks;
        tasks.push_back(fail_noting("collected first"));
        tasks.push_back(sleep_an_hour(counted(1)));
        (void)co_await aio::gather(aio::return_exceptions, std::move(tasks));
    } else {
        aio::task<int> a = fail_noting("collected first");
        aio::task<int> b = sleep_an_hour(counted(1));
        (void)co_await aio::gather(aio::return_exceptions, std::move(a), std::move(b));
    }
}

}  // namespace

// Defect 6: gather(return_exceptions, ...) holds a failed child's outcome for its waiter; when
// the waiter is cancelled instead, that exception is reported on stderr.
TEST_CASE("an outcome's exception that a cancelled gather(return_exceptions) cannot deliver is "
          "reported on stderr",
          "[gather][issue10]") {
    const bool range = GENERATE(false, true);
    CAPTURE(range);
    capture_stderr capture;
    const bool cancelled = run_virtual(cancel_waiter(collect_then_cancelled(range)));
    const std::string text = capture.stop();
    CHECK(cancelled);
    INFO(text);
    CHECK(contains(text, "exception was never retrieved: collected first"));
    CHECK(text.find("collected first") == text.rfind("collected first"));  // reported once
}

namespace {

aio::task<bool> await_empty(aio::task_handle<int> h) {
    try {
        (void)co_await h;
    } catch (const aio::invalid_state_error&) {
        co_return true;
    }
    co_return false;
}

}  // namespace

// Defect 11: an empty or moved-from handle is misuse: a clear invalid_state_error, or false
// from cancel() (noexcept: nothing to cancel), never a null dereference.
TEST_CASE("an empty or moved-from task_handle throws invalid_state_error instead of crashing",
          "[task_handle][issue10]") {
    aio::event_loop loop;
    aio::task_handle<int> empty;
    aio::task_handle<int> source = loop.create_task(value_after(1ms, 1));
    aio::task_handle<int> taken = std::move(source);
    for (aio::task_handle<int>* h : {&empty, &source}) {
        CHECK_FALSE(h->valid());
        CHECK_THROWS_AS(h->done(), aio::invalid_state_error);
        CHECK_THROWS_AS(h->cancelled(), aio::invalid_state_error);
        CHECK_THROWS_AS(h->cancelling(), aio::invalid_state_error);
        CHECK_THROWS_AS(h->uncancel(), aio::invalid_state_error);
        CHECK_THROWS_AS(h->result(), aio::invalid_state_error);
        CHECK_THROWS_AS(h->exception(), aio::invalid_state_error);
        CHECK_FALSE(h->cancel());
        CHECK(loop.run_until_complete(await_empty(*h)));
    }
    loop.run_until_complete(nap(5ms));
    CHECK(taken.result() == 1);  // the handle it was moved to has the task
}

namespace {

aio::task<int> await_handle_in_helper(const aio::task_handle<int>* self) {
    co_return co_await *self;
}

aio::task<int> await_self(const aio::task_handle<int>* self, bool through_helper,
                          std::string& error) {
    try {
        if (through_helper) {
            (void)co_await await_handle_in_helper(self);
        } else {
            (void)co_await *self;
        }
    } catch (const aio::invalid_state_error& e) {
        error = e.what();
        co_return 1;
    }
    co_return 0;
}

aio::task<int> run_self_awaiting(bool through_helper, std::string& error) {
    aio::task_handle<int> h;
    h = aio::create_task(await_self(&h, through_helper, error));  // h is set before it starts
    co_return co_await h;
}

}  // namespace

// Documented in issue #10 (asyncio: "Task cannot await on itself"): a task awaiting its own
// handle, directly or from a coroutine it awaits, is refused at the await instead of hanging.
TEST_CASE("a task awaiting its own handle gets invalid_state_error at the await",
          "[task_handle][issue10]") {
    const bool through_helper = GENERATE(false, true);
    CAPTURE(through_helper);
    std::string error;
    CHECK(run_virtual(run_self_awaiting(through_helper, error)) == 1);
    CHECK(contains(error, "cannot await on itself"));
}

namespace {

aio::task<int> fails_at_once() {
    throw std::runtime_error("child failed");
    co_return 0;
}

/// A group left before its join, after its child failed; `read_handle` reads the failure
/// through the child's handle first.
aio::task<int> leave_group_unjoined(bool read_handle) {
    aio::task_group tg;
    aio::task_handle<int> h = tg.create_task(fails_at_once());
    co_await aio::sleep(0ms);  // the child runs and fails
    co_await aio::sleep(0ms);
    if (read_handle) {
        try {
            (void)co_await h;
        } catch (const std::runtime_error&) {
            co_return 2;
        }
    }
    co_return 1;  // tg destroyed without being awaited
}

}  // namespace

// Found by the randomized schedule test: task_group.hpp promises that the errors of a group
// destroyed without `co_await tg` are reported as never retrieved; a failure the group had
// already collected was dropped silently.
TEST_CASE("a task_group destroyed without being awaited reports its children's failures on "
          "stderr unless a handle retrieved them",
          "[task_group][issue10]") {
    const bool read_handle = GENERATE(false, true);
    CAPTURE(read_handle);
    capture_stderr capture;
    const int result = run_virtual(leave_group_unjoined(read_handle));
    const std::string text = capture.stop();
    INFO(text);
    CHECK(result == (read_handle ? 2 : 1));
    if (read_handle) {
        CHECK_FALSE(contains(text, "child failed"));
    } else {
        CHECK(contains(text, "exception was never retrieved: child failed"));
        CHECK(text.find("child failed") == text.rfind("child failed"));  // reported once
    }
}

namespace {

aio::task<int> fails_first() {
    co_await aio::sleep(0ms);
    throw std::runtime_error("failed first");
    co_return 0;
}

aio::task<int> fails_on_cancel() {
    try {
        co_await aio::sleep(1h);
    } catch (const aio::cancelled_error&) {
        throw std::runtime_error("failed second");
    }
    co_return 0;
}

aio::task<std::string> gather_two_failures(bool range) {
    try {
        if (range) {
            std::vector<aio::task<int>> children;
            children.push_back(fails_first());
            children.push_back(fails_on_cancel());
            auto g = aio::gather(std::move(children));
            (void)co_await g;
        } else {
            auto g = aio::gather(fails_first(), fails_on_cancel());
            (void)co_await g;
        }
    } catch (const std::runtime_error& e) {
        co_return e.what();
    }
    co_return "";
}

}  // namespace

// Defect 6 (found again by the randomized schedule test with strict_dropped_errors): a gather
// rethrows its first failure; a sibling that then fails too (here answering the gather's
// cancellation with an error) must not vanish: it is reported on stderr.
TEST_CASE("a gather child's failure after the gather already failed is reported on stderr",
          "[gather][issue10]") {
    const bool range = GENERATE(false, true);
    CAPTURE(range);
    capture_stderr capture;
    const std::string thrown = run_virtual(gather_two_failures(range));
    const std::string text = capture.stop();
    INFO(text);
    CHECK(thrown == "failed first");
    CHECK(contains(text, "exception was never retrieved: failed second"));
    CHECK_FALSE(contains(text, "failed first"));
}

namespace {

aio::task<int> fails_collected() {
    co_await aio::sleep(0ms);
    throw std::runtime_error("collected failure");
    co_return 0;
}

aio::task<int> sleeps_long() {
    co_await aio::sleep(1h);
    co_return 0;
}

aio::task<void> collect_range() {
    std::vector<aio::task<int>> children;
    children.push_back(fails_collected());
    children.push_back(sleeps_long());
    auto g = aio::gather(aio::return_exceptions, std::move(children));
    (void)co_await g;
}

/// Cancels a range gather(return_exceptions) once its first child has failed.
aio::task<bool> cancel_collecting_gather() {
    aio::task_handle<void> h = aio::create_task(collect_range());
    co_await aio::sleep(1ms);
    co_await aio::sleep(1ms);
    h.cancel();
    try {
        co_await h;
    } catch (const aio::cancelled_error&) {
    }
    co_return h.cancelled();
}

}  // namespace

// Defect 6 (found again by the randomized schedule test with strict_dropped_errors): a range
// gather(return_exceptions) keeps each failure as its child finishes; cancelled before it
// returns them, it throws cancelled_error and reports the failures it collected on stderr.
TEST_CASE("failures a range gather(return_exceptions) collected before its waiter was cancelled "
          "are reported on stderr",
          "[gather][issue10]") {
    capture_stderr capture;
    const bool cancelled = run_virtual(cancel_collecting_gather());
    const std::string text = capture.stop();
    INFO(text);
    CHECK(cancelled);
    CHECK(contains(text, "exception was never retrieved: collected failure"));
    CHECK(text.find("collected failure") == text.rfind("collected failure"));  // reported once
}
