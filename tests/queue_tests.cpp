// SPDX-License-Identifier: MIT
// Tests for <aio/queue.hpp>: aio::queue, lifo_queue and priority_queue. Most follow a test of
// CPython's Lib/test/test_asyncio/test_queues.py (named in a comment); the cancellation races
// are the ones re-implementations get wrong: a cancelled get() or put() never loses an item or
// a slot. Timing is by yields (sleep(0)), never by the wall clock.
#include "helpers/catch.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/errors.hpp>
#include <aio/event_loop.hpp>
#include <aio/gather.hpp>
#include <aio/queue.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

aio::task<void> yields(int n = 1) {
    for (int i = 0; i < n; ++i) {
        co_await aio::sleep(0ms);
    }
}

template <class Q>
aio::task<typename Q::value_type> get_from(Q& q) {
    co_return co_await q.get();
}

template <class Q>
aio::task<void> put_into(Q& q, typename Q::value_type v) {
    co_await q.put(std::move(v));
}

template <class Q>
aio::task<void> join_of(Q& q) {
    co_await q.join();
}

}  // namespace

// ---- basics ---------------------------------------------------------------------------------

TEST_CASE("a queue's maxsize, qsize, empty and full follow its items", "[queue]") {
    // test_maxsize, test_empty, test_full
    aio::queue<int> q(2);
    CHECK(q.maxsize() == 2);
    CHECK(q.empty());
    CHECK(!q.full());
    q.put_nowait(1);
    CHECK(q.qsize() == 1);
    CHECK(!q.empty());
    q.put_nowait(2);
    CHECK(q.full());
    CHECK_THROWS_AS(q.put_nowait(3), aio::queue_full);
    CHECK(q.get_nowait() == 1);
    CHECK(!q.full());
    aio::queue<int> unbounded;
    for (int i = 0; i < 1000; ++i) {
        unbounded.put_nowait(i);
    }
    CHECK(!unbounded.full());
    CHECK(unbounded.qsize() == 1000);
}

TEST_CASE("get_nowait on an empty queue throws queue_empty", "[queue]") {
    // test_nonblocking_get_exception
    aio::queue<int> q;
    CHECK_THROWS_AS(q.get_nowait(), aio::queue_empty);
}

TEST_CASE("the three queue kinds give their items in FIFO, LIFO and priority order", "[queue]") {
    // test_order (QueueGetTests), LifoQueueTests.test_order, PriorityQueueTests.test_order
    aio::queue<int> fifo;
    aio::lifo_queue<int> lifo;
    aio::priority_queue<int> prio;
    for (int i : {1, 3, 2}) {
        fifo.put_nowait(i);
        lifo.put_nowait(i);
        prio.put_nowait(i);
    }
    std::vector<int> a, b, c;
    while (!fifo.empty()) {
        a.push_back(fifo.get_nowait());
        b.push_back(lifo.get_nowait());
        c.push_back(prio.get_nowait());
    }
    CHECK(a == std::vector<int>{1, 3, 2});
    CHECK(b == std::vector<int>{2, 3, 1});
    CHECK(c == std::vector<int>{1, 2, 3});

    aio::priority_queue<int, std::greater<int>> largest_first;
    for (int i : {5, 1, 9, 3, 7}) {
        largest_first.put_nowait(i);
    }
    std::vector<int> d;
    while (!largest_first.empty()) {
        d.push_back(largest_first.get_nowait());
    }
    CHECK(d == std::vector<int>{9, 7, 5, 3, 1});
}

TEST_CASE("a priority queue of many items pops them sorted", "[queue]") {
    aio::priority_queue<unsigned> q;
    unsigned x = 12345;
    std::multiset<unsigned> expected;
    for (int i = 0; i < 500; ++i) {
        x = x * 1103515245u + 12345u;
        q.put_nowait(x % 97);
        expected.insert(x % 97);
    }
    std::vector<unsigned> got;
    while (!q.empty()) {
        got.push_back(q.get_nowait());
    }
    CHECK(got == std::vector<unsigned>(expected.begin(), expected.end()));
}

TEST_CASE("queues carry move-only items", "[queue]") {
    run_virtual([]() -> aio::task<void> {
        aio::queue<std::unique_ptr<int>> q(1);
        co_await q.put(std::make_unique<int>(7));
        auto second = aio::create_task(put_into(q, std::make_unique<int>(8)));
        co_await yields();
        CHECK(!second.done());  // full: waits
        std::unique_ptr<int> a = co_await q.get();
        std::unique_ptr<int> b = co_await q.get();
        CHECK(*a == 7);
        CHECK(*b == 8);
        aio::lifo_queue<std::unique_ptr<int>> l;
        l.put_nowait(std::make_unique<int>(1));
        l.put_nowait(std::make_unique<int>(2));
        CHECK(*l.get_nowait() == 2);
    }());
}

TEST_CASE("a get waits for a put and receives that item", "[queue]") {
    // test_blocking_get_wait
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto getter = aio::create_task(get_from(q));
        co_await yields(2);
        CHECK(!getter.done());
        q.put_nowait(5);
        CHECK(co_await getter == 5);
    }());
}

TEST_CASE("a put into a full queue waits until a get makes room", "[queue]") {
    // test_blocking_put_wait
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        co_await q.put(1);
        auto putter = aio::create_task(put_into(q, 2));
        co_await yields(2);
        CHECK(!putter.done());
        CHECK(q.get_nowait() == 1);
        co_await putter;
        CHECK(q.get_nowait() == 2);
    }());
}

TEST_CASE("getters are served in the order they started waiting", "[queue]") {
    // test_why_are_getters_waiting
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto a = aio::create_task(get_from(q));
        auto b = aio::create_task(get_from(q));
        auto c = aio::create_task(get_from(q));
        co_await yields();
        for (int i = 1; i <= 3; ++i) {
            q.put_nowait(i);
        }
        CHECK(co_await a == 1);
        CHECK(co_await b == 2);
        CHECK(co_await c == 3);
    }());
}

TEST_CASE("putters are served in the order they started waiting", "[queue]") {
    // test_why_are_putters_waiting
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(2);
        q.put_nowait(0);
        q.put_nowait(1);
        auto a = aio::create_task(put_into(q, 2));
        auto b = aio::create_task(put_into(q, 3));
        co_await yields();
        std::vector<int> got;
        for (int i = 0; i < 4; ++i) {
            got.push_back(co_await q.get());
        }
        CHECK(got == std::vector<int>{0, 1, 2, 3});
        co_await a;
        co_await b;
    }());
}

TEST_CASE("a woken getter is sure of an item: get_nowait cannot take the last one first",
          "[queue]") {
    // aio's fairness (see queue.hpp): asyncio would let get_nowait barge in, and the woken
    // getter would wait again at the back.
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto a = aio::create_task(get_from(q));
        co_await yields();
        q.put_nowait(1);
        CHECK(q.qsize() == 1);
        CHECK_THROWS_AS(q.get_nowait(), aio::queue_empty);  // kept for a
        q.put_nowait(2);
        CHECK(q.get_nowait() == 1);  // items still leave in FIFO order
        CHECK(co_await a == 2);
    }());
}

// ---- cancellation: nothing lost ---------------------------------------------------------------

TEST_CASE("a getter cancelled after being woken leaves its item to the next get",
          "[queue][cancel]") {
    // test_get_cancel_drop_one_pending_reader
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto reader = aio::create_task(get_from(q));
        co_await yields();
        q.put_nowait(1);
        q.put_nowait(2);
        CHECK(reader.cancel());
        co_await yields(2);
        CHECK(reader.cancelled());
        auto again = aio::create_task(get_from(q));
        CHECK(co_await again == 1);  // 2 would mean 1 was dropped
    }());
}

TEST_CASE("cancelling one of many woken getters loses no item", "[queue][cancel]") {
    // test_get_cancel_drop_many_pending_readers
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto r1 = aio::create_task(get_from(q));
        auto r2 = aio::create_task(get_from(q));
        auto r3 = aio::create_task(get_from(q));
        co_await yields();
        q.put_nowait(1);
        q.put_nowait(2);
        CHECK(r1.cancel());
        CHECK_THROWS_AS(co_await r1, aio::cancelled_error);
        const int b = co_await r2;
        const int c = co_await r3;
        CHECK(std::set<int>{b, c} == std::set<int>{1, 2});
    }());
}

TEST_CASE("a getter cancelled before any put leaves no trace", "[queue][cancel]") {
    // test_get_cancelled_race
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto t1 = aio::create_task(get_from(q));
        auto t2 = aio::create_task(get_from(q));
        co_await yields();
        CHECK(t1.cancel());
        co_await yields();
        CHECK(t1.done());
        co_await q.put(42);
        co_await yields();
        CHECK(t2.done());
        CHECK(t2.result() == 42);
    }());
}

TEST_CASE("a putter cancelled while waiting puts nothing", "[queue][cancel]") {
    // test_put_cancel_drop
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        q.put_nowait(1);
        auto putter = aio::create_task(put_into(q, 2));
        co_await yields();
        CHECK(putter.cancel());
        co_await yields();
        CHECK(putter.cancelled());
        CHECK(q.get_nowait() == 1);
        CHECK(q.empty());
    }());
}

TEST_CASE("a putter cancelled beside others keeps the rest in order", "[queue][cancel]") {
    // test_put_cancelled_race
    run_virtual([]() -> aio::task<void> {
        aio::queue<std::string> q(1);
        auto put_a = aio::create_task(put_into(q, std::string("a")));
        auto put_b = aio::create_task(put_into(q, std::string("b")));
        auto put_c = aio::create_task(put_into(q, std::string("X")));
        co_await yields();
        CHECK(put_a.done());
        CHECK(!put_b.done());
        CHECK(put_c.cancel());
        co_await yields();
        CHECK(put_c.done());
        CHECK(q.get_nowait() == "a");
        co_await yields();
        CHECK(q.get_nowait() == "b");
        co_await put_b;
    }());
}

TEST_CASE("a putter cancelled after being woken passes its slot on", "[queue][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        q.put_nowait(0);
        auto p1 = aio::create_task(put_into(q, 1));
        auto p2 = aio::create_task(put_into(q, 2));
        co_await yields();
        CHECK(q.get_nowait() == 0);  // wakes p1
        CHECK(p1.cancel());          // woken, not yet run
        co_await yields(2);
        CHECK(p1.cancelled());
        CHECK(p2.done());
        CHECK(q.get_nowait() == 2);
    }());
}

TEST_CASE("a get that timed out leaves no getter behind", "[queue][cancel]") {
    // test_cancelled_getters_not_being_held_in_self_getters
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(5);
        auto timed = aio::wait_for(get_from(q), 1ms);
        CHECK_THROWS_AS(co_await timed, aio::timeout_error);
        q.put_nowait(1);
        CHECK(q.get_nowait() == 1);  // no stale getter had the item kept for it
    }());
}

TEST_CASE("a put that timed out leaves no putter behind", "[queue][cancel]") {
    // test_cancelled_puts_not_being_held_in_self_putters
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        q.put_nowait(1);
        auto timed = aio::wait_for(put_into(q, 2), 1ms);
        CHECK_THROWS_AS(co_await timed, aio::timeout_error);
        CHECK(q.get_nowait() == 1);
        q.put_nowait(3);  // the slot is free: no stale putter had it kept
        CHECK(q.get_nowait() == 3);
    }());
}

TEST_CASE("a failing gather sibling cancels a waiting get, put and join", "[queue][cancel]") {
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        auto fail = []() -> aio::task<int> {
            co_await yields(2);
            throw std::runtime_error("boom");
        };
        auto g1 = aio::gather(get_from(q), fail());
        CHECK_THROWS_AS(co_await g1, std::runtime_error);
        q.put_nowait(1);
        auto g2 = aio::gather(put_into(q, 2), fail());
        CHECK_THROWS_AS(co_await g2, std::runtime_error);
        auto g3 = aio::gather(join_of(q), fail());
        CHECK_THROWS_AS(co_await g3, std::runtime_error);
        CHECK(q.qsize() == 1);
        CHECK(q.get_nowait() == 1);
    }());
}

// ---- task_done and join -------------------------------------------------------------------------

TEST_CASE("join waits until every item put is marked done", "[queue]") {
    // test_task_done, test_join_empty_queue
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        co_await q.join();  // nothing unfinished: at once
        for (int i = 0; i < 10; ++i) {
            q.put_nowait(i);
        }
        int total = 0;
        auto worker = [](aio::queue<int>& q, int& total) -> aio::task<void> {
            for (;;) {
                total += co_await q.get();
                co_await yields();
                q.task_done();
            }
        };
        auto w1 = aio::create_task(worker(q, total));
        auto w2 = aio::create_task(worker(q, total));
        co_await q.join();
        CHECK(total == 45);
        CHECK(q.unfinished_tasks() == 0);
        w1.cancel();
        w2.cancel();
        co_await yields();
    }());
}

TEST_CASE("task_done called more times than items put throws", "[queue]") {
    // test_task_done_underflow
    aio::queue<int> q;
    CHECK_THROWS_AS(q.task_done(), aio::invalid_state_error);
    q.put_nowait(1);
    (void)q.get_nowait();
    q.task_done();
    CHECK_THROWS_AS(q.task_done(), aio::invalid_state_error);
}

// ---- shutdown (Python 3.13) ---------------------------------------------------------------------

TEST_CASE("a shut-down empty queue refuses put and get", "[queue][shutdown]") {
    // test_shutdown_empty
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        q.shutdown();
        CHECK(q.is_shut_down());
        CHECK_THROWS_AS(q.put_nowait(1), aio::queue_shut_down);
        CHECK_THROWS_AS(co_await q.put(1), aio::queue_shut_down);
        CHECK_THROWS_AS(q.get_nowait(), aio::queue_shut_down);
        CHECK_THROWS_AS(co_await q.get(), aio::queue_shut_down);
    }());
}

TEST_CASE("a shut-down queue still gives its items, then refuses", "[queue][shutdown]") {
    // test_shutdown_nonempty
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        q.put_nowait(1);
        q.put_nowait(2);
        q.shutdown();
        CHECK_THROWS_AS(q.put_nowait(3), aio::queue_shut_down);
        CHECK(co_await q.get() == 1);
        CHECK(q.get_nowait() == 2);
        CHECK_THROWS_AS(co_await q.get(), aio::queue_shut_down);
    }());
}

TEST_CASE("an immediate shutdown drops the items and settles join", "[queue][shutdown]") {
    // test_shutdown_immediate, test_shutdown_immediate_with_unfinished
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        q.put_nowait(1);
        q.put_nowait(2);
        q.put_nowait(3);
        CHECK(q.get_nowait() == 1);  // taken, not done: stays unfinished
        auto joiner = aio::create_task(join_of(q));
        co_await yields();
        CHECK(!joiner.done());
        q.shutdown(true);
        CHECK(q.empty());
        CHECK(q.unfinished_tasks() == 1);
        CHECK_THROWS_AS(q.get_nowait(), aio::queue_shut_down);
        co_await yields(2);
        CHECK(!joiner.done());
        q.task_done();
        co_await joiner;
    }());
}

TEST_CASE("shutdown wakes every waiting getter with queue_shut_down", "[queue][shutdown]") {
    // test_shutdown_getters_deque (and the getters of test_shutdown_empty)
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        std::vector<aio::task_handle<int>> getters;
        for (int i = 0; i < 3; ++i) {
            getters.push_back(aio::create_task(get_from(q)));
        }
        co_await yields();
        q.shutdown();
        for (auto& g : getters) {
            CHECK_THROWS_AS(co_await g, aio::queue_shut_down);
        }
    }());
}

TEST_CASE("getters woken by shutdown drain what is left, then throw", "[queue][shutdown]") {
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q;
        auto a = aio::create_task(get_from(q));
        auto b = aio::create_task(get_from(q));
        co_await yields();
        q.put_nowait(1);  // woken: kept for a
        q.shutdown();
        CHECK(co_await a == 1);
        CHECK_THROWS_AS(co_await b, aio::queue_shut_down);
    }());
}

TEST_CASE("shutdown wakes every waiting putter with queue_shut_down", "[queue][shutdown]") {
    // test_shutdown_putters_deque
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        q.put_nowait(0);
        std::vector<aio::task_handle<void>> putters;
        for (int i = 1; i <= 3; ++i) {
            putters.push_back(aio::create_task(put_into(q, i)));
        }
        co_await yields();
        q.shutdown();
        for (auto& p : putters) {
            CHECK_THROWS_AS(co_await p, aio::queue_shut_down);
        }
        CHECK(q.get_nowait() == 0);
    }());
}

TEST_CASE("after shutdown, get, task_done and join still work through the items",
          "[queue][shutdown]") {
    // test_shutdown_get_task_done_join
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(2);
        q.put_nowait(1);
        q.put_nowait(2);
        auto joiner = aio::create_task(join_of(q));
        q.shutdown();
        CHECK(co_await q.get() == 1);
        q.task_done();
        co_await yields();
        CHECK(!joiner.done());
        CHECK(co_await q.get() == 2);
        q.task_done();
        co_await joiner;
    }());
}

TEST_CASE("a put refused by shutdown leaves join unaffected", "[queue][shutdown]") {
    // test_shutdown_put_join
    run_virtual([]() -> aio::task<void> {
        aio::queue<int> q(1);
        q.put_nowait(1);
        auto putter = aio::create_task(put_into(q, 2));
        auto joiner = aio::create_task(join_of(q));
        co_await yields();
        q.shutdown();
        CHECK_THROWS_AS(co_await putter, aio::queue_shut_down);
        CHECK(q.unfinished_tasks() == 1);
        CHECK(q.get_nowait() == 1);
        q.task_done();
        co_await joiner;
    }());
}

TEST_CASE("shutdown may be repeated and made immediate later", "[queue][shutdown]") {
    // test_shutdown_allowed_transitions
    aio::queue<int> q;
    q.put_nowait(1);
    q.shutdown();
    q.shutdown();
    CHECK(q.qsize() == 1);
    q.shutdown(true);
    CHECK(q.empty());
    q.shutdown(true);
    q.shutdown();
    CHECK(q.is_shut_down());
}

TEST_CASE("a queue destroyed with a getter still parked leaves it parked, not dangling",
          "[queue]") {
    aio::event_loop loop;
    auto q = std::make_unique<aio::queue<int>>();
    auto getter = loop.create_task(get_from(*q));
    loop.run_until_complete(yields());
    q.reset();
    CHECK(!getter.done());
}
