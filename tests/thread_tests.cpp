// SPDX-License-Identifier: MIT
// Tests for what crosses threads in <aio/event_loop.hpp>: call_soon_threadsafe (it runs each
// callback once, in per-thread order, and wakes a blocked loop), the debug check that refuses
// the other members from a foreign thread, outside work on virtual time, and timers on the
// poller. Every test name mentions "thread" or "poller", so the clang-tsan preset runs it.
// Real time here (tests/helpers/virtual_time.hpp lists why): wake-ups from other threads
// and the poller's deadlines are what is tested; only lower bounds and generous upper bounds.
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"

#include <aio/event.hpp>
#include <aio/event_loop.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

aio::task<void> wait_for_event(aio::event& ev) {
    co_await ev.wait();
}

aio::task<int> sleep_then(steady::duration delay, int value) {
    co_await aio::sleep(delay);
    co_return value;
}

// Spins (yielding) until `flag` is true: a thread's start signal.
void wait_until_set(const std::atomic<bool>& flag) {
    while (!flag.load(std::memory_order_acquire)) {
        std::this_thread::yield();
    }
}

}  // namespace

TEST_CASE("call_soon_threadsafe from 8 threads x 10000 calls runs each callback exactly once, "
          "in per-thread order",
          "[thread][event_loop]") {
    constexpr int threads = 8;
    constexpr int calls = 10'000;
    aio::event_loop loop;
    std::vector<int> next(threads, 0);  // per thread: the sequence number expected next
    int out_of_order = 0;
    int total = 0;
    std::atomic<bool> go{false};
    std::vector<std::thread> pushers;
    for (int t = 0; t < threads; ++t) {
        pushers.emplace_back([&, t] {
            wait_until_set(go);
            for (int i = 0; i < calls; ++i) {
                loop.call_soon_threadsafe([&, t, i] {  // runs on the loop's thread
                    if (next[static_cast<std::size_t>(t)] != i) {
                        ++out_of_order;
                    }
                    next[static_cast<std::size_t>(t)] = i + 1;
                    if (++total == threads * calls) {
                        loop.stop();
                    }
                });
            }
        });
    }
    loop.call_soon([&] { go.store(true, std::memory_order_release); });
    loop.run_forever();  // blocks in the poller whenever the pushers are behind
    for (std::thread& p : pushers) {
        p.join();
    }
    CHECK(total == threads * calls);
    CHECK(out_of_order == 0);
    CHECK(next == std::vector<int>(threads, calls));
}

TEST_CASE("a loop blocked with no timers is woken by call_soon_threadsafe from another thread",
          "[thread][event_loop][real_time]") {
    aio::event_loop loop;
    aio::event ev;
    steady::time_point called{};
    const steady::time_point start = steady::now();  // before the thread starts its sleep
    std::thread setter([&] {
        std::this_thread::sleep_for(50ms);  // the loop is blocked by now (not asserted)
        called = steady::now();
        loop.call_soon_threadsafe([&] { ev.set(); });
    });
    loop.run_until_complete(wait_for_event(ev));  // nothing ready, no timer: it must block
    const steady::time_point woken = steady::now();
    setter.join();
    CHECK(ev.is_set());
    CHECK(woken >= called);
    CHECK(woken - start >= 50ms);
    CHECK(woken - called < 10s);  // generous: woken, not timed out
}

TEST_CASE("a loop blocked on a timer an hour away is woken at once by another thread",
          "[thread][event_loop][real_time]") {
    aio::event_loop loop;
    bool timer_fired = false;
    loop.call_later(1h, [&] { timer_fired = true; });
    const steady::time_point start = steady::now();  // before the thread starts its sleep
    std::thread stopper([&] {
        std::this_thread::sleep_for(20ms);
        loop.call_soon_threadsafe([&] { loop.stop(); });
    });
    loop.run_forever();
    const steady::duration took = steady::now() - start;
    stopper.join();
    CHECK_FALSE(timer_fired);
    CHECK(took >= 20ms);
    CHECK(took < 60s);  // generous: woken, not at the timer
}

TEST_CASE("call_soon_threadsafe on a closed loop throws event_loop_error, from any thread, and "
          "drops the callback",
          "[thread][event_loop]") {
    counted::reset_counts();
    aio::event_loop loop;
    loop.close();
    bool ran = false;
    CHECK_THROWS_AS(loop.call_soon_threadsafe([&ran, c = counted(1)] { ran = c.value == 1; }),
                    aio::event_loop_error);
    std::string message;
    std::thread other([&] {
        try {
            loop.call_soon_threadsafe([&ran] { ran = true; });
        } catch (const aio::event_loop_error& e) {
            message = e.what();
        }
    });
    other.join();
    CHECK(message == "aio::event_loop::call_soon_threadsafe: the event loop is closed");
    CHECK_FALSE(ran);
    CHECK(counted::alive() == 0);
}

TEST_CASE("callbacks handed in from another thread but not run when the loop closes are "
          "dropped, not leaked",
          "[thread][event_loop]") {
    counted::reset_counts();
    {
        aio::event_loop loop;
        std::thread other([&] { loop.call_soon_threadsafe([c = counted(2)] { (void)c; }); });
        other.join();
        CHECK(counted::alive() == 1);
        loop.close();
        CHECK(counted::alive() == 0);
    }
    CHECK(counted::alive() == 0);
}

TEST_CASE("a loop made on one thread can run on another thread", "[thread][event_loop]") {
    aio::event_loop loop;
    int result = 0;
    std::thread runner([&] { result = loop.run_until_complete(sleep_then(1ms, 7)); });
    runner.join();
    CHECK(result == 7);
}

// asyncio checks this in debug mode only (BaseEventLoop._check_thread); aio in debug mode and,
// always, in builds without NDEBUG.
TEST_CASE("in debug mode or a build without NDEBUG a loop method called from another thread "
          "while the loop runs throws asyncio's error naming the method",
          "[thread][event_loop][debug]") {
    aio::event_loop loop;
    loop.set_debug(true);
    std::vector<std::string> messages;
    std::thread foreign;
    const auto refused = [&](auto&& call) {
        try {
            call();
        } catch (const aio::event_loop_error& e) {
            messages.emplace_back(e.what());
        }
    };
    loop.call_soon([&] {  // the loop is running now: start the foreign thread
        foreign = std::thread([&] {
            refused([&] { (void)loop.call_soon([] {}); });
            refused([&] { (void)loop.call_later(1ms, [] {}); });
            refused([&] { (void)loop.create_task(sleep_then(1ms, 1)); });
            refused([&] { loop.stop(); });
            refused([&] { loop.close(); });
            refused([&] { (void)loop.cancel_all(); });
            refused([&] { (void)loop.run_until_complete(sleep_then(1ms, 1)); });
            refused([&] { loop.run_forever(); });
            loop.call_soon_threadsafe([&] { loop.stop(); });  // the one that is allowed
        });
    });
    loop.run_forever();
    foreign.join();
    REQUIRE(messages.size() == 8);
    for (const std::string& m : messages) {
        CHECK(m.find("Non-thread-safe operation invoked on an event loop other than the current "
                     "one") != std::string::npos);
    }
    CHECK(messages[2].find("aio::event_loop::create_task: ") == 0);
    CHECK(messages[3].find("aio::event_loop::stop: ") == 0);
    CHECK(loop.pending_tasks() == 0);  // the refused task was not adopted
#ifndef NDEBUG
    // Without debug mode too, in this build.
    loop.set_debug(false);
    messages.clear();
    loop.call_soon([&] {
        foreign = std::thread([&] {
            refused([&] { (void)loop.create_task(sleep_then(1ms, 1)); });
            loop.call_soon_threadsafe([&] { loop.stop(); });
        });
    });
    loop.run_forever();
    foreign.join();
    CHECK(messages.size() == 1);
#endif
}

TEST_CASE("a virtual-time loop waits for outside work from another thread instead of jumping "
          "or reporting a deadlock",
          "[thread][virtual_time]") {
    aio::event_loop loop{aio::virtual_time};
    const steady::time_point start = loop.time();
    aio::event ev;
    steady::time_point set_at{};
    loop.external_begin();  // what to_thread does before handing a job to a worker
    std::thread worker([&] {
        std::this_thread::sleep_for(20ms);
        loop.call_soon_threadsafe([&] {
            set_at = loop.time();
            ev.set();
        });
        loop.external_end();  // after the hand-in
    });
    // A timer an hour away: autojump would fire it at once if the loop did not wait.
    bool timer_fired_first = false;
    loop.call_later(1h, [&] { timer_fired_first = !ev.is_set(); });
    loop.run_until_complete(wait_for_event(ev));
    worker.join();
    CHECK(set_at == start);  // virtual time did not move while the work was out
    CHECK_FALSE(timer_fired_first);
    CHECK(aio::detail::core_of(loop).external_pending() == 0);
    // With nothing outside any more, autojump moves on to the hour-away timer.
    CHECK(loop.run_until_complete(sleep_then(2h, 3)) == 3);
    CHECK(loop.time() - start == 2h);
}

TEST_CASE("timers on the poller never fire before their deadline, also while other threads "
          "keep waking the loop",
          "[thread][poller][real_time]") {
    aio::event_loop loop;
    const std::vector<steady::duration> delays{0us, 100us, 300us, 1ms, 2500us, 5ms, 20ms};
    std::vector<steady::duration> early;  // how early each early timer fired (none expected)
    std::size_t fired = 0;
    std::atomic<bool> done{false};
    for (const steady::duration d : delays) {
        const steady::time_point deadline = aio::detail::core_of(loop).deadline_after(d);
        loop.call_at(deadline, [&, deadline] {
            const steady::time_point now = steady::now();
            if (now < deadline) {
                early.push_back(deadline - now);
            }
            if (++fired == delays.size()) {
                loop.stop();
            }
        });
    }
    std::thread waker([&] {
        while (!done.load(std::memory_order_acquire)) {
            loop.call_soon_threadsafe([] {});  // each ends the loop's wait early
            std::this_thread::sleep_for(50us);
        }
    });
    loop.run_forever();
    done.store(true, std::memory_order_release);
    waker.join();
    CHECK(fired == delays.size());
    CHECK(early.empty());
}
