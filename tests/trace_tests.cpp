// SPDX-License-Identifier: MIT
// Tests for <aio/trace.hpp>: the Chrome Trace Event JSON a loop writes while tracing. The full
// check of a trace's structure (it parses, one track per task, slices that never overlap, each
// arrow from a waking step to a woken one) is a Python test of the demo's --trace output
// (examples/checks/trace_check.py); these check what a user relies on from C++: the file is
// complete after stop_trace and after close, tracks carry the tasks' names (escaped as JSON),
// waits carry what they waited on, tracing can be turned off, a bad path is a clear error, and
// AIO_TRACE starts a trace.
#include "helpers/capture_stderr.hpp"
#include "helpers/catch.hpp"
#include "helpers/contains.hpp"

#include <aio/aio.hpp>
#include <aio/trace.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <system_error>

using namespace std::chrono_literals;

namespace {

std::string temp_path(const char* stem) {
    return std::string("/tmp/aio_trace_tests_") + stem + "_" + std::to_string(::getpid()) + ".json";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++n;
    }
    return n;
}

aio::task<> ping_pong(aio::event& ping, aio::event& pong) {
    co_await ping.wait();
    pong.set();
}

}  // namespace

TEST_CASE("a trace names each task's track and labels its waits and wake-ups", "[trace]") {
    const std::string path = temp_path("names");
    {
        aio::event_loop loop{aio::virtual_time};
        loop.start_trace(path);
        CHECK(loop.is_tracing());
        loop.run_until_complete([]() -> aio::task<> {
            aio::event ping;
            aio::event pong;
            auto t = aio::create_task(ping_pong(ping, pong), "say \"pong\"");
            co_await aio::sleep(10ms);
            ping.set();
            co_await pong.wait();
            co_await t;
        }());
        loop.stop_trace();
        CHECK_FALSE(loop.is_tracing());
    }
    const std::string text = read_file(path);
    std::remove(path.c_str());
    CHECK(text.rfind("[\n", 0) == 0);
    CHECK(text.size() >= 3);
    CHECK(text.substr(text.size() - 3) == "\n]\n");  // complete
    // a task's track is its number, and named after it
    CHECK(std::regex_search(
        text, std::regex(
                  R"j("name":"thread_name","pid":1,"tid":([0-9]+),"args":\{"name":"Task-\1"\})j")));
    CHECK(contains(text, R"j("args":{"name":"say \"pong\""})j"));  // escaped
    CHECK(contains(text, R"j("name":"wait: aio::event::wait")j"));
    CHECK(contains(text, R"j("name":"wait: sleep (wakes in 0.010 s)")j"));
    // main's ping.set() wakes the task, whose pong.set() wakes main: two arrows, each started
    // and finished once.
    CHECK(count(text, R"j("ph":"s")j") == 2);
    CHECK(count(text, R"j("ph":"f")j") == 2);
}

TEST_CASE("closing the loop ends its trace and a stopped trace records nothing more", "[trace]") {
    const std::string path = temp_path("close");
    aio::event_loop loop{aio::virtual_time};
    loop.start_trace(path);
    loop.run_until_complete([]() -> aio::task<> { co_await aio::sleep(1ms); }());
    loop.stop_trace();
    const std::string after_stop = read_file(path);
    loop.run_until_complete([]() -> aio::task<> { co_await aio::sleep(1ms); }());
    loop.close();
    CHECK(read_file(path) == after_stop);
    CHECK(count(after_stop, R"j("name":"thread_name")j") == 2);  // callbacks, Task-1

    aio::event_loop other{aio::virtual_time};
    other.start_trace(path);
    other.run_until_complete([]() -> aio::task<> { co_await aio::sleep(1ms); }());
    other.close();
    const std::string text = read_file(path);
    std::remove(path.c_str());
    CHECK(text.substr(text.size() - 3) == "\n]\n");
}

TEST_CASE("start_trace to a path that cannot be written throws system_error and does not trace",
          "[trace]") {
    aio::event_loop loop{aio::virtual_time};
    CHECK_THROWS_AS(loop.start_trace("/nonexistent-dir/trace.json"), std::system_error);
    CHECK_FALSE(loop.is_tracing());
}

TEST_CASE("AIO_TRACE starts a trace for the loops a program makes", "[trace]") {
    const std::string path = temp_path("env");
    ::setenv("AIO_TRACE", path.c_str(), 1);
    {
        aio::event_loop loop{aio::virtual_time};
        CHECK(loop.is_tracing());
        loop.run_until_complete([]() -> aio::task<> { co_await aio::sleep(1ms); }());
    }
    ::unsetenv("AIO_TRACE");
    const std::string text = read_file(path);
    std::remove(path.c_str());
    CHECK(contains(text, R"j("args":{"name":"Task-)j"));
    CHECK(text.substr(text.size() - 3) == "\n]\n");
}

TEST_CASE("AIO_TRACE naming a path that cannot be written is reported and the loop runs",
          "[trace]") {
    ::setenv("AIO_TRACE", "/nonexistent-dir/trace.json", 1);
    capture_stderr capture;
    aio::event_loop loop{aio::virtual_time};
    ::unsetenv("AIO_TRACE");
    CHECK_FALSE(loop.is_tracing());
    CHECK(contains(capture.stop(), "aio: AIO_TRACE: aio::event_loop::start_trace: cannot write "
                                   "/nonexistent-dir/trace.json"));
    CHECK(loop.run_until_complete([]() -> aio::task<int> { co_return 3; }()) == 3);
}
