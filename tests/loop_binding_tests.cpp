// SPDX-License-Identifier: MIT
// Tests that a queue, lock, event, semaphore, condition or barrier is bound to the loop of its
// first waiter, as asyncio's primitives are (mixins._LoopBoundMixin): a task of another loop
// that has to wait on it gets aio::event_loop_error instead of a hang or a resumption on the
// wrong loop. Two loops run one after another on this thread; the first is closed, or not.
#include <aio/aio.hpp>
#include <catch2/catch.hpp>

#include <optional>

namespace {

// Runs `first` on one loop and `second` on another; `second` must throw event_loop_error.
template <class First, class Second>
void check_second_loop_refused(First first, Second second) {
    const bool close_first = GENERATE(true, false);
    CAPTURE(close_first);
    std::optional<aio::event_loop> a(std::in_place);
    a->run_until_complete(first());
    if (close_first) {
        a->close();
    }
    aio::event_loop b;
    CHECK_THROWS_WITH(b.run_until_complete(second()),
                      Catch::Contains("is bound to a different event loop"));
    CHECK_THROWS_AS(b.run_until_complete(second()), aio::event_loop_error);
}

}  // namespace

TEST_CASE("a lock waited on in one loop refuses a waiter of another loop", "[loop_binding]") {
    aio::lock lock;
    auto first = [&]() -> aio::task<> {
        co_await lock.acquire();
        auto waiter = aio::create_task([](aio::lock& l) -> aio::task<> {
            co_await l.acquire();  // parks: binds the lock to this loop
            l.release();
        }(lock));
        co_await aio::sleep(std::chrono::milliseconds(0));
        lock.release();
        co_await waiter;
    };
    auto second = [&]() -> aio::task<> {
        co_await lock.acquire();  // free: taken without waiting, no loop involved
        auto waiter =
            aio::create_task([](aio::lock& l) -> aio::task<> { co_await l.acquire(); }(lock));
        std::exception_ptr error;
        try {
            co_await waiter;
        } catch (...) {
            error = std::current_exception();
        }
        CHECK(lock.locked());  // still held by this task, nobody waits
        lock.release();
        CHECK_FALSE(lock.locked());
        std::rethrow_exception(error);
    };
    check_second_loop_refused(first, second);
}

TEST_CASE("a semaphore waited on in one loop refuses a waiter of another loop", "[loop_binding]") {
    aio::bounded_semaphore sem(1);
    auto first = [&]() -> aio::task<> {
        co_await sem.acquire();
        auto waiter = aio::create_task([](aio::bounded_semaphore& s) -> aio::task<> {
            co_await s.acquire();
            s.release();
        }(sem));
        co_await aio::sleep(std::chrono::milliseconds(0));
        sem.release();
        co_await waiter;
    };
    auto second = [&]() -> aio::task<> {
        co_await sem.acquire();
        std::exception_ptr error;
        try {
            co_await sem.acquire();  // no permit: would wait
        } catch (...) {
            error = std::current_exception();
        }
        sem.release();  // the refused waiter took nothing: one release balances
        CHECK_FALSE(sem.locked());
        std::rethrow_exception(error);
    };
    check_second_loop_refused(first, second);
}

TEST_CASE("an event waited on in one loop refuses a waiter of another loop", "[loop_binding]") {
    aio::event ev;
    auto first = [&]() -> aio::task<> {
        auto waiter = aio::create_task([](aio::event& e) -> aio::task<> { co_await e.wait(); }(ev));
        co_await aio::sleep(std::chrono::milliseconds(0));
        ev.set();
        co_await waiter;
    };
    auto second = [&]() -> aio::task<> {
        co_await ev.wait();  // set: no waiting, no loop involved
        ev.clear();
        co_await ev.wait();
    };
    check_second_loop_refused(first, second);
}

TEST_CASE("a queue waited on in one loop refuses a getter of another loop", "[loop_binding]") {
    aio::queue<int> q;
    auto first = [&]() -> aio::task<> {
        auto getter = aio::create_task(
            [](aio::queue<int>& qq) -> aio::task<int> { co_return co_await qq.get(); }(q));
        co_await aio::sleep(std::chrono::milliseconds(0));
        q.put_nowait(1);
        CHECK(co_await getter == 1);
    };
    auto second = [&]() -> aio::task<> {
        q.put_nowait(2);
        CHECK(co_await q.get() == 2);  // an item: no waiting
        (void)co_await q.get();
    };
    check_second_loop_refused(first, second);
}

TEST_CASE("a condition waited on in one loop refuses a waiter of another loop, which still "
          "holds the lock afterwards",
          "[loop_binding]") {
    aio::condition cond;
    auto first = [&]() -> aio::task<> {
        auto waiter = aio::create_task([](aio::condition& c) -> aio::task<> {
            co_await c.acquire();
            co_await c.wait();
            c.release();
        }(cond));
        co_await aio::sleep(std::chrono::milliseconds(0));
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await waiter;
    };
    auto second = [&]() -> aio::task<> {
        co_await cond.acquire();
        std::exception_ptr error;
        try {
            co_await cond.wait();
        } catch (...) {
            error = std::current_exception();
        }
        CHECK(cond.locked());  // wait() takes the lock again before it throws
        cond.release();
        std::rethrow_exception(error);
    };
    check_second_loop_refused(first, second);
}

TEST_CASE("a barrier waited on in one loop refuses a party of another loop", "[loop_binding]") {
    aio::barrier bar(2);
    auto first = [&]() -> aio::task<> {
        auto party =
            aio::create_task([](aio::barrier& b) -> aio::task<> { (void)co_await b.wait(); }(bar));
        (void)co_await bar.wait();
        co_await party;
    };
    auto second = [&]() -> aio::task<> { (void)co_await bar.wait(); };
    check_second_loop_refused(first, second);
}
