// SPDX-License-Identifier: MIT
// Tests for the loop's debug mode (loop.set_debug(true), AIO_DEBUG=1): each report names the
// task (its name, and where it was created) — a slow step, an exception never retrieved, a task
// destroyed while pending — as asyncio's debug mode does (CPython's test_asyncio:
// test_base_events.py test_slow_callback_duration / test_run_once_logging, test_tasks.py
// test_task_source_traceback / test_exception_never_retrieved, test_pep492.py
// test_task_destroyed_pending). The thread check is in thread_tests.cpp, the deadlock dump in
// introspection_tests.cpp.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/contains.hpp"

#include <aio/aio.hpp>
#include <aio/trace.hpp>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// A step that blocks the loop's thread: what debug mode is there to catch.
aio::task<> blocks_the_loop(std::chrono::milliseconds how_long) {
    co_await aio::sleep(0s);
    std::this_thread::sleep_for(how_long);
    co_await aio::sleep(0s);
}

aio::task<int> fails() {
    co_await aio::sleep(1ms);
    throw std::runtime_error("boom");
}

const std::string this_file = "debug_mode_tests.cpp:";

}  // namespace

TEST_CASE("debug mode reports a slow step with the task's name and creation site", "[debug]") {
    aio::event_loop loop{aio::virtual_time};
    loop.set_debug(true);
    loop.slow_callback_duration = 20ms;
    capture_stderr capture;
    loop.run_until_complete(
        []() -> aio::task<> { co_await aio::create_task(blocks_the_loop(40ms), "slowpoke"); }());
    const std::string text = capture.stop();
    std::smatch m;
    REQUIRE(std::regex_search(text, m,
                              std::regex("aio: a step of slowpoke \\(created at ([^\\n]*)\\) took "
                                         "([0-9.]+) seconds\\n")));
    CHECK(contains(m[1].str(), this_file));
    CHECK(std::stod(m[2].str()) >= 0.040);
    CHECK(!contains(text, "a step of Task-"));  // the main task's steps were quick
}

TEST_CASE("debug mode reports a slow callback as a callback", "[debug]") {
    aio::event_loop loop{aio::virtual_time};
    loop.set_debug(true);
    loop.slow_callback_duration = 10ms;
    capture_stderr capture;
    loop.call_soon([] { std::this_thread::sleep_for(20ms); });
    loop.run_until_complete([]() -> aio::task<> { co_await aio::sleep(1ms); }());
    CHECK(std::regex_search(capture.stop(),
                            std::regex("aio: a callback took 0\\.0[2-9][0-9] seconds")));
}

TEST_CASE("a step under slow_callback_duration or outside debug mode is not reported", "[debug]") {
    for (const bool debug : {true, false}) {
        aio::event_loop loop{aio::virtual_time};
        loop.set_debug(debug);
        loop.slow_callback_duration = debug ? 10s : 1ms;
        capture_stderr capture;
        loop.run_until_complete(blocks_the_loop(5ms));
        CHECK(capture.stop().empty());
    }
}

TEST_CASE("set_debug while tasks are pending reports their later steps", "[debug]") {
    aio::event_loop loop{aio::virtual_time};
    loop.slow_callback_duration = 10ms;
    capture_stderr capture;
    loop.run_until_complete([]() -> aio::task<> {
        auto t = aio::create_task(blocks_the_loop(20ms), "late");  // created before debug mode
        aio::get_running_loop().set_debug(true);
        co_await t;
    }());
    CHECK(contains(capture.stop(), "aio: a step of late"));
}

TEST_CASE("an exception never retrieved is reported with the task's name and creation site",
          "[debug]") {
    capture_stderr capture;
    std::string unnamed;
    {
        aio::event_loop loop{aio::virtual_time};
        loop.set_debug(true);
        loop.run_until_complete([](std::string& unnamed) -> aio::task<> {
            (void)aio::create_task(fails(), "careless");
            unnamed = aio::create_task(fails()).get_name();
            co_await aio::sleep(10ms);
        }(unnamed));
    }
    const std::string text = capture.stop();
    CHECK(std::regex_search(text,
                            std::regex("aio: task exception was never retrieved: boom \\(task "
                                       "careless \\(created at [^\\n]*debug_mode_tests\\.cpp:")));
    CHECK(std::regex_search(text,
                            std::regex("aio: task exception was never retrieved: boom \\(task " +
                                       unnamed + " \\(created at [^\\n]*debug_mode_tests\\.cpp:")));
}

TEST_CASE("outside debug mode an exception never retrieved still names the task", "[debug]") {
    capture_stderr capture;
    std::string name;
    {
        aio::event_loop loop{aio::virtual_time};
        loop.set_debug(false);
        loop.run_until_complete([](std::string& name) -> aio::task<> {
            name = aio::create_task(fails()).get_name();
            co_await aio::sleep(10ms);
        }(name));
    }
    // No creation site: asyncio too records it in debug mode only.
    CHECK(contains(capture.stop(),
                   "aio: task exception was never retrieved: boom (task " + name + ")\n"));
}

TEST_CASE("debug mode reports a task destroyed while pending with its name and site", "[debug]") {
    capture_stderr capture;
    std::string name;
    {
        aio::event_loop loop{aio::virtual_time};
        loop.set_debug(true);
        name = loop.create_task(blocks_the_loop(1ms)).get_name();
        loop.close();  // it never ran
    }
    CHECK(std::regex_search(capture.stop(),
                            std::regex("aio: task was destroyed but it is pending: " + name +
                                       " \\(created at [^\\n]*debug_mode_tests\\.cpp:[0-9]+")));
}

TEST_CASE("AIO_DEBUG=1 turns debug mode on for new loops and AIO_DEBUG=0 does not", "[debug]") {
    ::setenv("AIO_DEBUG", "1", 1);
    CHECK(aio::event_loop{}.get_debug());
    CHECK(aio::event_loop{aio::virtual_time}.get_debug());
    ::setenv("AIO_DEBUG", "0", 1);
    CHECK_FALSE(aio::event_loop{}.get_debug());
    ::setenv("AIO_DEBUG", "", 1);
    CHECK_FALSE(aio::event_loop{}.get_debug());
    ::unsetenv("AIO_DEBUG");
    CHECK_FALSE(aio::event_loop{}.get_debug());
}

TEST_CASE("aio::run with debug on reports like set_debug", "[debug]") {
    capture_stderr capture;
    aio::run(
        []() -> aio::task<> {
            CHECK(aio::get_running_loop().get_debug());
            aio::get_running_loop().slow_callback_duration = 10ms;
            co_await aio::create_task(blocks_the_loop(20ms), "in_run");
        }(),
        aio::virtual_time, true);
    CHECK(contains(capture.stop(), "aio: a step of in_run"));
}

TEST_CASE("a task dropped after its loop closed in debug mode touches nothing of the loop",
          "[debug]") {
    // The task is parked in a gather of two coroutines (roots the loop never listed); its
    // frame, and the children's, go only when the handle goes, after the loop is gone.
    aio::task_handle<void> survivor;
    capture_stderr capture;
    {
        aio::event_loop loop{aio::virtual_time};
        loop.set_debug(true);
        loop.start_trace("/dev/null");
        survivor = loop.create_task([]() -> aio::task<> {
            co_await aio::gather(blocks_the_loop(0ms), []() -> aio::task<> {
                aio::event never;
                co_await never.wait();
            }());
        }());
        loop.run_until_complete([]() -> aio::task<> { co_await aio::sleep(1ms); }());
        loop.close();
    }
    const std::string survivor_name = survivor.get_name();
    survivor = aio::task_handle<void>();  // the frames go now (ASan: no use of the loop)
    CHECK(contains(capture.stop(),
                   "aio: task was destroyed but it is pending: " + survivor_name + " (created at"));
}
