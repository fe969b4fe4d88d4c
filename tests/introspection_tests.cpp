// SPDX-License-Identifier: MIT
// Tests for seeing what the loop does: task names (Task.get_name/set_name, create_task's name),
// aio::current_task(), loop.all_tasks(), what a parked task waits on (any_task_handle::
// waiting_on, as every awaitable describes itself), and the task dump (loop.print_tasks),
// including the one debug mode prints when run_until_complete finds a deadlock. Ported in
// spirit from CPython's test_asyncio/test_tasks.py (test_task_set_name, test_current_task,
// test_all_tasks) and aiomonitor's `ps`.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/contains.hpp"

#include <aio/aio.hpp>
#include <aio/any_task_handle.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::task<int> value_after(std::chrono::milliseconds pause, int value) {
    co_await aio::sleep(pause);
    co_return value;
}

aio::task<std::string> my_name() {
    aio::any_task_handle me = co_await aio::current_task();
    co_return me.get_name();
}

// The number N of a default name "Task-N".
int serial_of(const std::string& name) {
    std::smatch m;
    REQUIRE(std::regex_match(name, m, std::regex("Task-([0-9]+)")));
    return std::stoi(m[1].str());
}

}  // namespace

TEST_CASE("tasks are named Task-N in creation order unless given a name", "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    std::vector<std::string> names;
    loop.run_until_complete([](std::vector<std::string>& out) -> aio::task<> {
        auto a = aio::create_task(value_after(1ms, 1));
        auto b = aio::create_task(value_after(1ms, 2), "fetcher");
        auto c = aio::create_task(value_after(1ms, 3));
        out = {a.get_name(), b.get_name(), c.get_name()};
        co_await aio::gather(a, b, c);
    }(names));
    const int first = serial_of(names[0]);
    CHECK(names[1] == "fetcher");
    CHECK(serial_of(names[2]) == first + 2);  // the named task still took its number
}

TEST_CASE("tasks are numbered in the order they are made on a thread across loops",
          "[introspection]") {
    // asyncio counts the tasks of the process; aio those of the thread (no atomic needed).
    int first = 0;
    {
        aio::event_loop loop{aio::virtual_time};
        first = serial_of(loop.run_until_complete(my_name()));
    }
    aio::event_loop loop{aio::virtual_time};
    CHECK(serial_of(loop.run_until_complete(my_name())) == first + 1);
    int other_thread = 0;
    std::thread([&other_thread] {
        aio::event_loop loop{aio::virtual_time};
        other_thread = serial_of(loop.run_until_complete(my_name()));
    }).join();
    CHECK(other_thread == 1);  // the first task made on that thread
}

TEST_CASE("set_name renames a task and the name stays after it finished", "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    auto handle = loop.run_until_complete([]() -> aio::task<aio::task_handle<int>> {
        auto t = aio::create_task(value_after(5ms, 7));
        t.set_name("renamed");
        aio::any_task_handle any = t;
        CHECK(any.get_name() == "renamed");
        any.set_name("renamed again");
        co_await t;
        co_return t;
    }());
    CHECK(handle.done());
    CHECK(handle.get_name() == "renamed again");
}

TEST_CASE("current_task is the task that awaits it also inside awaited coroutines",
          "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete([]() -> aio::task<> {
        auto t = aio::create_task(
            []() -> aio::task<std::string> { co_return co_await my_name(); }(), "outer");
        CHECK(co_await t == "outer");
        aio::any_task_handle me = co_await aio::current_task();
        CHECK(me.valid());
        CHECK_FALSE(me.done());
        CHECK_FALSE(me == aio::any_task_handle(t));
    }());
}

TEST_CASE("current_task of a gather child is that child not its parent", "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete([]() -> aio::task<> {
        const std::string parent = co_await my_name();
        auto [a, b] = co_await aio::gather(my_name(), my_name());
        CHECK(a != parent);
        CHECK(b != parent);
        CHECK(a != b);
    }());
}

TEST_CASE("all_tasks lists the pending tasks in creation order and not the finished ones",
          "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete([]() -> aio::task<> {
        auto& loop = aio::get_running_loop();
        auto quick = aio::create_task(value_after(1ms, 1), "quick");
        auto slow = aio::create_task(value_after(50ms, 2), "slow");
        std::vector<aio::any_task_handle> all = loop.all_tasks();
        REQUIRE(all.size() == 3);  // main, quick, slow
        CHECK(all[0] == co_await aio::current_task());
        CHECK(all[1].get_name() == "quick");
        CHECK(all[2].get_name() == "slow");
        co_await quick;
        all = loop.all_tasks();
        REQUIRE(all.size() == 2);
        CHECK(all[1] == aio::any_task_handle(slow));
        co_await slow;
    }());
    CHECK(loop.all_tasks().empty());
}

TEST_CASE("a task can cancel another through an any_task_handle", "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete([]() -> aio::task<> {
        auto victim = aio::create_task(value_after(1h, 1));
        co_await aio::sleep(1ms);
        for (aio::any_task_handle& t : aio::get_running_loop().all_tasks()) {
            if (t == aio::any_task_handle(victim)) {
                CHECK(t.cancel());
                CHECK(t.cancelling() == 1);
            }
        }
        CHECK_THROWS_AS(co_await victim, aio::cancelled_error);
        CHECK(aio::any_task_handle(victim).cancelled());
    }());
}

TEST_CASE("an empty any_task_handle refuses everything but valid and cancel", "[introspection]") {
    aio::any_task_handle empty;
    CHECK_FALSE(empty.valid());
    CHECK_FALSE(empty.cancel());
    CHECK_THROWS_AS(empty.get_name(), aio::invalid_state_error);
    CHECK_THROWS_AS(empty.done(), aio::invalid_state_error);
    CHECK_THROWS_AS(empty.waiting_on(), aio::invalid_state_error);
}

TEST_CASE("waiting_on says what each parked task waits for", "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete([]() -> aio::task<> {
        aio::queue<int> q;
        aio::event ev;
        aio::lock mutex;
        co_await mutex.acquire();
        auto sleeper = aio::create_task(value_after(250ms, 1), "sleeper");
        auto getter = aio::create_task(
            [](aio::queue<int>& q) -> aio::task<int> { co_return co_await q.get(); }(q));
        auto event_waiter =
            aio::create_task([](aio::event& e) -> aio::task<> { co_await e.wait(); }(ev));
        auto locker = aio::create_task(
            [](aio::lock& l) -> aio::task<> { auto guard = co_await l.scoped(); }(mutex));
        auto awaiting = aio::create_task(
            [](aio::task_handle<int> t) -> aio::task<int> { co_return co_await t; }(sleeper));
        auto gathering = aio::create_task([]() -> aio::task<> {
            co_await aio::gather(value_after(1h, 1), value_after(1h, 2));
        }());
        auto timed = aio::create_task(
            []() -> aio::task<int> { co_return co_await aio::wait_for(value_after(1h, 1), 2s); }());
        co_await aio::sleep(0s);
        co_await aio::sleep(0s);
        CHECK(contains(aio::any_task_handle(sleeper).waiting_on(), "sleep (wakes in 0.2"));
        CHECK(aio::any_task_handle(getter).waiting_on() == "aio::queue::get");
        CHECK(aio::any_task_handle(event_waiter).waiting_on() == "aio::event::wait");
        CHECK(aio::any_task_handle(locker).waiting_on() == "aio::lock::acquire");
        CHECK(aio::any_task_handle(awaiting).waiting_on() == "task sleeper");
        CHECK(aio::any_task_handle(gathering).waiting_on() == "gather of 2 (2 pending)");
        CHECK(contains(aio::any_task_handle(timed).waiting_on(), "wait_for (the timeout in 2.0"));
        CHECK(aio::any_task_handle(co_await aio::current_task()).waiting_on().empty());  // running
        mutex.release();
        ev.set();
        q.put_nowait(1);
        for (auto* t : {&gathering}) {
            t->cancel();
        }
        timed.cancel();
        co_await aio::gather(aio::return_exceptions, sleeper, getter, event_waiter, locker,
                             awaiting, gathering, timed);
        CHECK(aio::any_task_handle(getter).waiting_on().empty());  // finished
    }());
}

TEST_CASE("print_tasks names every pending task with what it waits on and its chain",
          "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete([]() -> aio::task<> {
        aio::queue<int> q;
        auto reader = aio::create_task(
            [](aio::queue<int>& q) -> aio::task<int> { co_return co_await q.get(); }(q), "reader");
        auto boss = aio::create_task(
            [](aio::task_handle<int> t) -> aio::task<int> { co_return co_await t; }(reader),
            "boss");
        co_await aio::sleep(0s);
        const std::string report = aio::get_running_loop().tasks_report();
        CHECK(contains(report, "3 tasks pending"));
        CHECK(contains(report, "reader (created at "));
        CHECK(contains(report, "introspection_tests.cpp:"));
        CHECK(contains(report, "): waiting for aio::queue::get"));
        // boss, then indented under it the task it waits for
        CHECK(std::regex_search(report,
                                std::regex("  boss \\(created at [^\\n]*\\): waiting for task "
                                           "reader\\n      reader [^\\n]*waiting for "
                                           "aio::queue::get\\n")));
        capture_stderr capture;
        aio::get_running_loop().print_tasks();
        CHECK(capture.stop() == report);
        q.put_nowait(5);
        CHECK(co_await boss == 5);
    }());
}

TEST_CASE("in debug mode a deadlock prints both tasks of a cycle and what each waits on",
          "[introspection]") {
    // Two tasks that each wait for the other, and main waiting for one of them: nothing can
    // ever run again. On virtual time the loop can prove it (asyncio would hang).
    aio::event_loop loop{aio::virtual_time};
    loop.set_debug(true);
    capture_stderr capture;
    CHECK_THROWS_AS(loop.run_until_complete([]() -> aio::task<> {
        aio::event go;
        aio::task_handle<int> second;
        auto first = aio::create_task(
            [](aio::event& go, aio::task_handle<int>& other) -> aio::task<int> {
                co_await go.wait();
                co_return co_await other;
            }(go, second),
            "first");
        second = aio::create_task(
            [](aio::task_handle<int> other) -> aio::task<int> { co_return co_await other; }(first),
            "second");
        co_await aio::sleep(0s);
        go.set();
        co_await first;
    }()),
                    aio::event_loop_error);
    const std::string text = capture.stop();
    CHECK(contains(text, "aio: deadlock: nothing can wake these tasks: 3 tasks pending"));
    CHECK(std::regex_search(text, std::regex("  first \\(created at [^\\n]*introspection_tests"
                                             "\\.cpp:[0-9]+[^\\n]*\\): waiting for task second")));
    CHECK(std::regex_search(text, std::regex("  second \\(created at [^\\n]*\\): waiting for task "
                                             "first")));
    CHECK(contains(text, "a cycle: it waits, through the tasks above, for this one"));
    // Closing the loop drops the tasks still pending; debug mode names each one.
    capture_stderr at_close;
    loop.close();
    const std::string dropped = at_close.stop();
    CHECK(std::regex_search(dropped, std::regex("aio: task was destroyed but it is pending: first "
                                                "\\(created at [^\\n]*introspection_tests\\.cpp")));
    CHECK(contains(dropped, "aio: task was destroyed but it is pending: second"));
}

TEST_CASE("outside debug mode a deadlock prints no task dump", "[introspection]") {
    aio::event_loop loop{aio::virtual_time};
    loop.set_debug(false);
    capture_stderr capture;
    CHECK_THROWS_AS(loop.run_until_complete([]() -> aio::task<> {
        aio::event never;
        co_await never.wait();
    }()),
                    aio::event_loop_error);
    CHECK(capture.stop().empty());
}
