// SPDX-License-Identifier: MIT
// Tests for <aio/locks.hpp>: the umbrella header of the synchronisation primitives. Holds the
// README's API synopsis of them (compiled and run here); each primitive has its own tests
// (event_tests.cpp, lock_tests.cpp, semaphore_tests.cpp, condition_tests.cpp,
// barrier_tests.cpp).
#include "helpers/catch.hpp"
#include "helpers/virtual_time.hpp"

#include <aio/locks.hpp>
#include <aio/run.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

#include <cstddef>
#include <deque>
#include <string>
#include <vector>

namespace {

// README synopsis: begin
aio::task<int> consume(aio::condition& cond, std::deque<int>& items) {
    auto guard = co_await cond.scoped();  // async with cond:
    auto has_item = [&items] { return !items.empty(); };
    co_await cond.wait_for(has_item);  // releases the lock while it waits
    int item = items.front();          // the lock is held again here
    items.pop_front();
    co_return item;
}

aio::task<> locks_synopsis(std::vector<std::string>& log) {
    aio::event ready;       // asyncio.Event
    ready.set();            // wakes every waiter
    co_await ready.wait();  // returns at once: the flag is set
    ready.clear();          // later waits block until the next set()

    aio::lock lock;  // asyncio.Lock: FIFO, not owned by a task
    co_await lock.acquire();
    lock.release();  // invalid_state_error if not locked
    {
        aio::lock::guard guard = co_await lock.scoped();  // async with lock:
        log.push_back(lock.locked() ? "locked" : "free");
    }  // released here, on every way out

    aio::bounded_semaphore sem(2);  // also aio::semaphore (no bound)
    {
        auto permit = co_await sem.scoped();  // or acquire() / release()
        log.push_back(sem.locked() ? "no permit left" : "one permit left");
    }  // a release() now would throw: too many

    aio::condition cond;  // asyncio.Condition(); cond(lock) shares one
    std::deque<int> items;
    aio::task_handle<int> consumer = aio::create_task(consume(cond, items));
    {
        auto guard = co_await cond.scoped();
        items.push_back(7);
        cond.notify();  // notify(n), notify_all(); lock held
    }
    int consumed = co_await consumer;  // 7
    log.push_back("consumed " + std::to_string(consumed));

    aio::barrier meeting(1);                      // asyncio.Barrier(parties)
    std::size_t index = co_await meeting.wait();  // arrival index, 0 .. parties-1
    co_await meeting.abort();                     // waiters: aio::broken_barrier_error
    co_await meeting.reset();                     // usable again
    log.push_back("arrived " + std::to_string(index));
}
// README synopsis: end

}  // namespace

TEST_CASE("the README's synopsis of the synchronisation primitives runs", "[locks]") {
    std::vector<std::string> log;
    run_virtual(locks_synopsis(log));
    CHECK(log == std::vector<std::string>{"locked", "one permit left", "consumed 7", "arrived 0"});
}
