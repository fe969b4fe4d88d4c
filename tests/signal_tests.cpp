// SPDX-License-Identifier: MIT
// Tests for signals: loop.add_signal_handler / remove_signal_handler (detail/signals.hpp) and
// aio::run's Ctrl-C handling (run.hpp). A test executable of its own (aio_signal_tests), as
// signal dispositions are process-wide; every test name mentions "signal", so that the
// clang-tsan preset runs them. Each test puts back the dispositions it changes. The child-
// process test of the demo (Ctrl-C on random_delay) is examples/checks/random_delay_ctrl_c.cpp.
//
// aio::run's tests run on virtual time, as the SIGINT is raised from inside the main task: the
// delivery is seen at the next iteration, before any sleep could end, so a ten-second sleep
// proves the signal interrupted it without the test waiting for anything.
#include "helpers/catch.hpp"
#include "helpers/counted.hpp"

#include <aio/errors.hpp>
#include <aio/event.hpp>
#include <aio/event_loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <vector>

#include <signal.h>

using namespace std::chrono_literals;

namespace {

// Sets `sig` to `handler` (SIG_DFL unless given) for the test, and puts back what was there.
class disposition_scope {
public:
    explicit disposition_scope(int sig, void (*handler)(int) = SIG_DFL) : m_sig(sig) {
        struct sigaction action {};
        action.sa_handler = handler;
        sigemptyset(&action.sa_mask);
        ::sigaction(sig, &action, &m_saved);
    }
    ~disposition_scope() { ::sigaction(m_sig, &m_saved, nullptr); }
    disposition_scope(const disposition_scope&) = delete;
    disposition_scope& operator=(const disposition_scope&) = delete;

private:
    int m_sig;
    struct sigaction m_saved {};
};

void (*handler_of(int sig))(int) {
    struct sigaction current {};
    ::sigaction(sig, nullptr, &current);
    return current.sa_handler;
}

aio::task<void (*)(int)> sigint_disposition_inside() {
    co_return handler_of(SIGINT);
}

#if AIO_POLLER_EPOLL

volatile std::sig_atomic_t c_handler_calls = 0;
void counting_c_handler(int) {
    c_handler_calls = c_handler_calls + 1;
}

// ---- coroutines for add_signal_handler ---------------------------------------------------------

// Raises `sig` `times` times within one step, then waits until the handler set `handled`.
aio::task<int> raise_and_wait(int sig, int times, aio::event& handled, const int& calls) {
    for (int i = 0; i < times; ++i) {
        std::raise(sig);
    }
    const int calls_right_after_raise = calls;  // the handler runs later, on the loop
    co_await handled.wait();
    co_return calls_right_after_raise;
}

aio::task<void> wait_for(aio::event& ev) {
    co_await ev.wait();
}

// ---- coroutines for aio::run ------------------------------------------------------------------

struct ctrl_c_log {
    bool cancelled = false;
    bool cleanup_finished = false;
};

// Ctrl-C while main sleeps; main cleans up asynchronously and lets the cancellation end it.
aio::task<int> interrupted_main(ctrl_c_log& log, counted guard) {
    (void)guard;
    bool cancelled = false;
    try {
        std::raise(SIGINT);
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        log.cancelled = true;
        co_await aio::sleep(1ms);  // asynchronous cleanup still runs after the first Ctrl-C
        log.cleanup_finished = true;
        throw aio::cancelled_error{};
    }
    co_return 1;
}

// A second Ctrl-C while the cleanup awaits: run() must not wait for it.
aio::task<int> interrupted_twice(ctrl_c_log& log, counted guard) {
    (void)guard;
    bool cancelled = false;
    try {
        std::raise(SIGINT);
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        log.cancelled = true;
        std::raise(SIGINT);
        co_await aio::sleep(10s);  // a long cleanup, abandoned
        log.cleanup_finished = true;
    }
    co_return 2;
}

// Swallows the Ctrl-C cancellation and returns: asyncio.run then returns the value too.
aio::task<int> swallowing_main() {
    try {
        std::raise(SIGINT);
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        co_return 7;
    }
    co_return 0;
}

// Takes SIGINT over from run() with a handler of its own, as an asyncio program may.
aio::task<int> main_with_its_own_sigint_handler() {
    aio::event interrupted;
    aio::get_running_loop().add_signal_handler(SIGINT, [&interrupted] { interrupted.set(); });
    std::raise(SIGINT);
    co_await interrupted.wait();
    co_return 5;
}

aio::task<void> raise_sigint_when_cancelled(ctrl_c_log& log) {
    bool cancelled = false;
    try {
        co_await aio::sleep(10s);
    } catch (const aio::cancelled_error&) {
        cancelled = true;
    }
    if (cancelled) {
        log.cancelled = true;
        std::raise(SIGINT);  // Ctrl-C while run() cleans up the leftovers
        co_await aio::sleep(10s);
        log.cleanup_finished = true;
    }
}

aio::task<int> main_leaving_a_task(ctrl_c_log& log) {
    (void)aio::create_task(raise_sigint_when_cancelled(log));
    co_await aio::sleep(0s);
    co_return 3;
}

#endif

// A thread that sent a signal to the process stays until the test has seen it handled: the
// kernel may deliver the signal to the sender itself, and ThreadSanitizer runs a handler only
// when that thread next enters a call it intercepts (the sleep here); a thread that ended at
// once could take the delivery with it, and the loop would wait forever.
[[maybe_unused]] void stay_until(const std::atomic<bool>& over) {
    while (!over.load()) {
        std::this_thread::sleep_for(1ms);
    }
}

}  // namespace

// ---- add_signal_handler / remove_signal_handler ------------------------------------------------

#if AIO_POLLER_EPOLL

TEST_CASE("a signal handler runs on the loop at its next iteration after raise(), not inside "
          "the C handler",
          "[signal]") {
    disposition_scope usr1(SIGUSR1);
    aio::event_loop loop;
    aio::event handled;
    int calls = 0;
    std::thread::id ran_on;
    loop.add_signal_handler(SIGUSR1, [&] {
        ++calls;
        ran_on = std::this_thread::get_id();
        handled.set();
    });
    const int calls_right_after_raise =
        loop.run_until_complete(raise_and_wait(SIGUSR1, 1, handled, calls));
    CHECK(calls_right_after_raise == 0);
    CHECK(calls == 1);
    CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("a signal handler runs once per delivery of the signal", "[signal]") {
    disposition_scope usr1(SIGUSR1);
    aio::event_loop loop;
    aio::event handled;
    int calls = 0;
    loop.add_signal_handler(SIGUSR1, [&] {
        if (++calls == 3) {
            handled.set();
        }
    });
    (void)loop.run_until_complete(raise_and_wait(SIGUSR1, 3, handled, calls));
    CHECK(calls == 3);
}

TEST_CASE("a signal sent from another thread wakes a loop blocked with no timer", "[signal]") {
    disposition_scope usr2(SIGUSR2);
    aio::event_loop loop;
    aio::event handled;
    loop.add_signal_handler(SIGUSR2, [&] { handled.set(); });
    std::atomic<bool> over{false};
    std::thread sender([&over] {
        std::this_thread::sleep_for(20ms);
        ::kill(::getpid(), SIGUSR2);  // any thread may take it; the handler wakes the loop
        stay_until(over);
    });
    loop.run_until_complete(wait_for(handled));
    over = true;
    sender.join();
    CHECK(handled.is_set());
}

TEST_CASE("a loop on virtual time waiting only for a signal handler waits for the signal "
          "instead of reporting a deadlock",
          "[signal]") {
    disposition_scope usr2(SIGUSR2);
    aio::event_loop loop{aio::virtual_time};
    aio::event handled;
    loop.add_signal_handler(SIGUSR2, [&] { handled.set(); });
    std::atomic<bool> over{false};
    std::thread sender([&over] {
        std::this_thread::sleep_for(20ms);
        ::kill(::getpid(), SIGUSR2);
        stay_until(over);
    });
    loop.run_until_complete(wait_for(handled));
    over = true;
    sender.join();
    CHECK(handled.is_set());
}

TEST_CASE("adding a signal handler again on the same loop replaces its callback", "[signal]") {
    disposition_scope usr1(SIGUSR1);
    aio::event_loop loop;
    aio::event handled;
    int first = 0;
    int second = 0;
    loop.add_signal_handler(SIGUSR1, [&] { ++first; });
    loop.add_signal_handler(SIGUSR1, [&] {
        ++second;
        handled.set();
    });
    (void)loop.run_until_complete(raise_and_wait(SIGUSR1, 1, handled, second));
    CHECK(first == 0);
    CHECK(second == 1);
}

TEST_CASE("remove_signal_handler puts the previous signal disposition back and returns true: "
          "false when there is no handler",
          "[signal]") {
    disposition_scope usr1(SIGUSR1, &counting_c_handler);
    aio::event_loop loop;
    CHECK_FALSE(loop.remove_signal_handler(SIGUSR1));
    loop.add_signal_handler(SIGUSR1, [] {});
    CHECK(handler_of(SIGUSR1) != &counting_c_handler);
    CHECK(loop.remove_signal_handler(SIGUSR1));
    CHECK(handler_of(SIGUSR1) == &counting_c_handler);
    c_handler_calls = 0;
    std::raise(SIGUSR1);
    CHECK(c_handler_calls == 1);
    CHECK_FALSE(loop.remove_signal_handler(SIGUSR1));
}

TEST_CASE("closing the loop puts every signal's previous disposition back", "[signal]") {
    disposition_scope usr1(SIGUSR1, &counting_c_handler);
    disposition_scope usr2(SIGUSR2, SIG_IGN);
    {
        aio::event_loop loop;
        loop.add_signal_handler(SIGUSR1, [] {});
        loop.add_signal_handler(SIGUSR2, [] {});
        CHECK(handler_of(SIGUSR2) != SIG_IGN);
        loop.close();
        CHECK(handler_of(SIGUSR1) == &counting_c_handler);
        CHECK(handler_of(SIGUSR2) == SIG_IGN);
    }
    {
        aio::event_loop loop;  // the destructor closes it too
        loop.add_signal_handler(SIGUSR1, [] {});
    }
    CHECK(handler_of(SIGUSR1) == &counting_c_handler);
}

TEST_CASE("a signal delivered before the loop runs is handled once it runs", "[signal]") {
    disposition_scope usr1(SIGUSR1);
    aio::event_loop loop;
    aio::event handled;
    loop.add_signal_handler(SIGUSR1, [&] { handled.set(); });
    std::raise(SIGUSR1);
    loop.run_until_complete(wait_for(handled));
    CHECK(handled.is_set());
}

TEST_CASE("a signal handled by one loop cannot be added on another loop until removed",
          "[signal]") {
    disposition_scope usr1(SIGUSR1);
    aio::event_loop first;
    aio::event_loop second;
    first.add_signal_handler(SIGUSR1, [] {});
    REQUIRE_THROWS_WITH(second.add_signal_handler(SIGUSR1, [] {}),
                        "aio::event_loop::add_signal_handler: signal " + std::to_string(SIGUSR1) +
                            " is handled by another event loop");
    CHECK(first.remove_signal_handler(SIGUSR1));
    second.add_signal_handler(SIGUSR1, [] {});
    CHECK(second.remove_signal_handler(SIGUSR1));
}

TEST_CASE("signal numbers out of range are std::invalid_argument, and so are SIGKILL, SIGSTOP "
          "and the fault signals",
          "[signal]") {
    const auto segv_before = handler_of(SIGSEGV);  // a sanitizer's, or the default
    aio::event_loop loop;
    for (const int sig : {0, -1, NSIG, 1000}) {
        CAPTURE(sig);
        REQUIRE_THROWS_AS(loop.add_signal_handler(sig, [] {}), std::invalid_argument);
        REQUIRE_THROWS_AS(loop.remove_signal_handler(sig), std::invalid_argument);
    }
    REQUIRE_THROWS_WITH(loop.add_signal_handler(0, [] {}),
                        "aio::event_loop::add_signal_handler: signal 0 is out of range [1, " +
                            std::to_string(NSIG) + ")");
    REQUIRE_THROWS_WITH(loop.add_signal_handler(SIGKILL, [] {}),
                        "aio::event_loop::add_signal_handler: SIGKILL cannot be caught");
    REQUIRE_THROWS_WITH(loop.add_signal_handler(SIGSTOP, [] {}),
                        "aio::event_loop::add_signal_handler: SIGSTOP cannot be caught");
    for (const int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
        CAPTURE(sig);
        REQUIRE_THROWS_AS(loop.add_signal_handler(sig, [] {}), std::invalid_argument);
    }
    CHECK_FALSE(loop.remove_signal_handler(SIGKILL));  // asyncio: False, nothing installed
    CHECK(handler_of(SIGSEGV) == segv_before);
}

TEST_CASE("add_signal_handler on a closed loop throws event_loop_error", "[signal]") {
    aio::event_loop loop;
    loop.close();
    REQUIRE_THROWS_AS(loop.add_signal_handler(SIGUSR1, [] {}), aio::event_loop_error);
    CHECK(handler_of(SIGUSR1) == SIG_DFL);
}

#else  // the portable poller

TEST_CASE("with the portable poller add_signal_handler throws a clear error (signal handlers "
          "need the epoll poller)",
          "[signal]") {
    aio::event_loop loop;
    REQUIRE_THROWS_AS(loop.add_signal_handler(SIGUSR1, [] {}), std::system_error);
    REQUIRE_THROWS_WITH(loop.add_signal_handler(SIGUSR1, [] {}),
                        "aio::event_loop::add_signal_handler: signal handlers need the epoll "
                        "poller (this build uses the portable one): Function not implemented");
    CHECK_FALSE(loop.remove_signal_handler(SIGUSR1));
    REQUIRE_THROWS_AS(loop.remove_signal_handler(0), std::invalid_argument);
}

TEST_CASE("with the portable poller aio::run leaves the SIGINT signal disposition alone",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    CHECK(aio::run(sigint_disposition_inside()) == SIG_DFL);
}

#endif

// ---- aio::run and Ctrl-C -----------------------------------------------------------------------

TEST_CASE("keyboard_interrupt, what run() throws for a SIGINT, is not a std::exception",
          "[signal]") {
    STATIC_REQUIRE_FALSE(std::is_base_of_v<std::exception, aio::keyboard_interrupt>);
    CHECK(std::string(aio::keyboard_interrupt{}.what()) == "aio::keyboard_interrupt");
}

#if AIO_POLLER_EPOLL

TEST_CASE("a SIGINT during run() cancels the main task, its cleanup runs, and run() throws "
          "keyboard_interrupt",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    counted::reset_counts();
    ctrl_c_log log;
    REQUIRE_THROWS_AS(aio::run(interrupted_main(log, counted(1)), aio::virtual_time),
                      aio::keyboard_interrupt);
    CHECK(log.cancelled);
    CHECK(log.cleanup_finished);
    CHECK(counted::alive() == 0);
    CHECK(handler_of(SIGINT) == SIG_DFL);  // put back
}

TEST_CASE("a second SIGINT during the main task's cleanup abandons it: run() throws "
          "keyboard_interrupt at once",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    counted::reset_counts();
    ctrl_c_log log;
    REQUIRE_THROWS_AS(aio::run(interrupted_twice(log, counted(1)), aio::virtual_time),
                      aio::keyboard_interrupt);
    CHECK(log.cancelled);
    CHECK_FALSE(log.cleanup_finished);
    CHECK(counted::alive() == 0);  // the abandoned frame was destroyed
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

TEST_CASE("a main task that swallows the SIGINT cancellation makes run() return its value, as "
          "asyncio.run does",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    CHECK(aio::run(swallowing_main(), aio::virtual_time) == 7);
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

TEST_CASE("a SIGINT while run() cleans up the tasks main left behind abandons that cleanup",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    ctrl_c_log log;
    REQUIRE_THROWS_AS(aio::run(main_leaving_a_task(log), aio::virtual_time),
                      aio::keyboard_interrupt);
    CHECK(log.cancelled);
    CHECK_FALSE(log.cleanup_finished);
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

TEST_CASE("a SIGINT signal handler that the main task adds replaces run()'s: no cancellation, "
          "and the default disposition is back after run()",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    CHECK(aio::run(main_with_its_own_sigint_handler(), aio::virtual_time) == 5);
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

TEST_CASE("run() installs its SIGINT signal handler only while it runs", "[signal]") {
    disposition_scope sigint(SIGINT);
    CHECK(aio::run(sigint_disposition_inside()) != SIG_DFL);
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

TEST_CASE("a SIGINT sent from another thread wakes run()'s blocked loop and cancels main",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    aio::event never_set;
    std::atomic<bool> stop{false};
    std::thread sender([&stop] {
        // Until run() has its handler in place: before, SIGINT would end the process.
        while (!stop.load() && handler_of(SIGINT) == SIG_DFL) {
            std::this_thread::sleep_for(1ms);
        }
        if (!stop.load()) {
            ::kill(::getpid(), SIGINT);
        }
        stay_until(stop);
    });
    try {
        aio::run(wait_for(never_set));
        FAIL("run() returned");
    } catch (const aio::keyboard_interrupt&) {
        SUCCEED("keyboard_interrupt");
    }
    stop = true;
    sender.join();
    CHECK(handler_of(SIGINT) == SIG_DFL);
}

TEST_CASE("run() leaves SIGINT alone when the signal is ignored or handled already", "[signal]") {
    {
        disposition_scope sigint(SIGINT, SIG_IGN);
        CHECK(aio::run(sigint_disposition_inside()) == SIG_IGN);
    }
    {
        disposition_scope sigint(SIGINT, &counting_c_handler);
        CHECK(aio::run(sigint_disposition_inside()) == &counting_c_handler);
    }
}

TEST_CASE("run() on a thread other than the main thread leaves the SIGINT signal disposition "
          "alone",
          "[signal]") {
    disposition_scope sigint(SIGINT);
    void (*inside)(int) = nullptr;
    std::thread other([&inside] { inside = aio::run(sigint_disposition_inside()); });
    other.join();
    CHECK(inside == SIG_DFL);
}

#endif
