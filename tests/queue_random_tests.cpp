// SPDX-License-Identifier: MIT
// Randomized schedules over a bounded aio::queue: producers, consumers, cancellations, timeouts
// and shutdowns, seeded and replayable. Invariants checked for every seed:
//  - every item whose put() returned is got exactly once, or is still in the queue at the end,
//    or was dropped by an immediate shutdown; no item appears that was not put;
//  - the queue never holds more than maxsize items;
//  - no waiter is left behind: the schedule ends (no deadlock) and every task finishes.
// AIO_QUEUE_RANDOM_SEEDS=N runs N seeds (default 1000); AIO_QUEUE_RANDOM_FIRST_SEED=S starts
// at S (to replay a failure: the failing seed is printed).
#include "helpers/catch.hpp"

#include <aio/errors.hpp>
#include <aio/queue.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

struct schedule {
    std::mt19937 rng;
    aio::queue<int> q;
    std::map<int, int> put_ok;  // item -> times its put returned
    std::map<int, int> got;     // item -> times a get returned it
    std::size_t dropped = 0;    // by an immediate shutdown
    std::size_t max_seen = 0;
    std::size_t maxsize;
    int waiting_getters = 0;  // consumers inside a get() right now
    bool stranded = false;    // a getter waited while an item sat in the queue, at quiescence

    schedule(std::uint32_t seed, std::size_t maxsize) : rng(seed), q(maxsize), maxsize(maxsize) {}

    unsigned pick(unsigned n) { return static_cast<unsigned>(rng() % n); }
    void observe() {
        if (q.qsize() > max_seen) {
            max_seen = q.qsize();
        }
    }
};

aio::task<int> get_one(aio::queue<int>& q) {
    co_return co_await q.get();
}
aio::task<void> put_one(aio::queue<int>& q, int item) {
    co_await q.put(item);
}

aio::task<void> producer(schedule& s, int id, int count) {
    for (int k = 0; k < count; ++k) {
        const int item = id * 1000 + k;
        const unsigned how = s.pick(4);
        try {
            if (how == 0) {
                auto bounded =
                    aio::wait_for(put_one(s.q, item), std::chrono::microseconds(s.pick(300)));
                co_await bounded;
            } else if (how == 1 && !s.q.full()) {
                s.q.put_nowait(item);
            } else {
                co_await s.q.put(item);
            }
            ++s.put_ok[item];
        } catch (const aio::timeout_error&) {
        } catch (const aio::queue_full&) {
        } catch (const aio::queue_shut_down&) {
            co_return;
        }
        s.observe();
        if (s.pick(3) == 0) {
            co_await aio::sleep(0ms);
        }
    }
}

/// Counts a consumer as waiting in get() for as long as it is inside one.
struct waiting_in_get {
    explicit waiting_in_get(schedule& s) : m_s(s) { ++m_s.waiting_getters; }
    ~waiting_in_get() { --m_s.waiting_getters; }
    waiting_in_get(const waiting_in_get&) = delete;
    waiting_in_get& operator=(const waiting_in_get&) = delete;
    schedule& m_s;
};

aio::task<void> consumer(schedule& s) {
    for (;;) {
        const unsigned how = s.pick(4);
        int item = -1;
        try {
            const waiting_in_get counted(s);
            if (how == 0) {
                auto bounded = aio::wait_for(get_one(s.q), std::chrono::microseconds(s.pick(300)));
                item = co_await bounded;
            } else if (how == 1 && !s.q.empty()) {
                item = s.q.get_nowait();
            } else {
                item = co_await s.q.get();
            }
        } catch (const aio::timeout_error&) {
            continue;
        } catch (const aio::queue_empty&) {
            item = -1;  // all items are kept for woken getters: yield below
        } catch (const aio::queue_shut_down&) {
            co_return;
        }
        if (item == -1) {
            co_await aio::sleep(0ms);
            continue;
        }
        ++s.got[item];
        s.observe();
        if (s.pick(3) == 0) {
            co_await aio::sleep(0ms);
        }
    }
}

aio::task<void> run_schedule(schedule& s) {
    std::vector<aio::task_handle<void>> producers;
    std::vector<aio::task_handle<void>> consumers;
    const int n_producers = 1 + static_cast<int>(s.pick(3));
    const int n_consumers = 1 + static_cast<int>(s.pick(3));
    for (int p = 0; p < n_producers; ++p) {
        producers.push_back(aio::create_task(producer(s, p + 1, 2 + static_cast<int>(s.pick(6)))));
    }
    for (int c = 0; c < n_consumers; ++c) {
        consumers.push_back(aio::create_task(consumer(s)));
    }
    // Chaos: cancel tasks at random moments, sometimes shut the queue down.
    const int steps = 5 + static_cast<int>(s.pick(20));
    bool shut = false;
    for (int i = 0; i < steps; ++i) {
        co_await aio::sleep(0ms);
        switch (s.pick(8)) {
        case 0:
            producers[s.pick(static_cast<unsigned>(producers.size()))].cancel();
            break;
        case 1:
            consumers[s.pick(static_cast<unsigned>(consumers.size()))].cancel();
            break;
        case 2:
            if (!shut && s.pick(4) == 0) {
                shut = true;
                const bool immediate = s.pick(2) == 0;
                if (immediate) {
                    s.dropped += s.q.qsize();
                }
                s.q.shutdown(immediate);
            }
            break;
        default:
            break;
        }
    }
    // Quiescence: whatever was woken has run. A getter still waiting while an item sits in
    // the queue means a wake-up was lost (e.g. a cancelled woken getter kept its item).
    for (int i = 0; i < 50; ++i) {
        co_await aio::sleep(0ms);
    }
    if (!shut && s.waiting_getters > 0 && !s.q.empty()) {
        s.stranded = true;
    }
    // Let the producers end (they may be blocked on a full queue with no consumer left: shut
    // the queue down, which wakes them), then stop the consumers.
    if (!shut) {
        s.q.shutdown();  // not immediate: the items stay for the final count
    }
    for (auto& p : producers) {
        try {
            co_await p;
        } catch (const aio::cancelled_error&) {
        }
    }
    for (auto& c : consumers) {
        try {
            co_await c;  // a shut-down, drained queue ends each consumer
        } catch (const aio::cancelled_error&) {
        }
    }
}

}  // namespace

TEST_CASE("random schedules over a bounded queue lose no item and leave no waiter",
          "[queue][random][real_time]") {
    const std::uint64_t first = env_or("AIO_QUEUE_RANDOM_FIRST_SEED", 1);
    const std::uint64_t count = env_or("AIO_QUEUE_RANDOM_SEEDS", 1000);
    for (std::uint64_t seed = first; seed < first + count; ++seed) {
        CAPTURE(seed);
        const std::size_t maxsize = 1 + seed % 4;
        schedule s(static_cast<std::uint32_t>(seed), maxsize);
        REQUIRE_NOTHROW(aio::run(run_schedule(s)));
        // Every item whose put returned: got once, still queued, or dropped.
        std::size_t put_total = 0;
        for (const auto& [item, times] : s.put_ok) {
            REQUIRE(times == 1);
            put_total += 1;
        }
        std::size_t got_total = 0;
        for (const auto& [item, times] : s.got) {
            CAPTURE(item);
            REQUIRE(times == 1);
            REQUIRE(s.put_ok.count(item) == 1);
            got_total += 1;
        }
        std::size_t left = 0;
        while (!s.q.empty()) {
            const int item = s.q.get_nowait();
            CAPTURE(item);
            REQUIRE(s.put_ok.count(item) == 1);
            REQUIRE(s.got.count(item) == 0);
            ++left;
        }
        REQUIRE(got_total + left + s.dropped == put_total);
        REQUIRE(s.max_seen <= maxsize);
        REQUIRE(!s.stranded);
    }
}
