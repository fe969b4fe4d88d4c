// SPDX-License-Identifier: MIT
// Randomized schedules over an aio::semaphore and an aio::bounded_semaphore: tasks acquiring
// (plainly, through wait_for with a short timeout, or scoped), holding for a while, releasing,
// and being cancelled at random moments; seeded and replayable. Invariants checked for every
// seed:
//  - the permits taken never exceed the bound and never go negative;
//  - every successful acquire is released exactly once (a bounded_semaphore would throw on a
//    release too many), and at the end every permit is free again;
//  - no waiter is left behind: a task never keeps waiting while a permit stays free, and the
//    schedule ends (no deadlock) with every task finished.
// AIO_SEMAPHORE_RANDOM_SEEDS=N runs N seeds for each of the two types (default 1000);
// AIO_SEMAPHORE_RANDOM_FIRST_SEED=S starts at S (to replay a failure: the failing seed is printed).
#include "helpers/catch.hpp"

#include <aio/errors.hpp>
#include <aio/run.hpp>
#include <aio/semaphore.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>
#include <aio/wait_for.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <vector>

using namespace std::chrono_literals;

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

template <class Sem>
struct schedule {
    std::mt19937 rng;
    Sem sem;
    long bound;
    long held = 0;     // permits taken by tasks right now
    long waiting = 0;  // tasks inside an acquire right now
    long acquires = 0;
    long releases = 0;
    bool over_bound = false;
    bool negative = false;
    bool bad_release = false;
    bool stranded = false;
    bool stop = false;

    schedule(std::uint32_t seed, long n) : rng(seed), sem(n), bound(n) {}
    unsigned pick(unsigned n) { return static_cast<unsigned>(rng() % n); }
    void took() {
        ++acquires;
        if (++held > bound) {
            over_bound = true;
        }
    }
    void give(bool release) {
        ++releases;
        if (--held < 0) {
            negative = true;
        }
        if (!release) {
            return;  // a guard releases it
        }
        try {
            sem.release();
        } catch (...) {
            bad_release = true;
        }
    }
};

/// Counts a task as waiting for as long as it is inside an acquire.
template <class Sem>
struct waiting_in_acquire {
    explicit waiting_in_acquire(schedule<Sem>& s) : m_s(s) { ++m_s.waiting; }
    ~waiting_in_acquire() { done(); }
    void done() {
        if (m_counted) {
            m_counted = false;
            --m_s.waiting;
        }
    }
    waiting_in_acquire(const waiting_in_acquire&) = delete;
    waiting_in_acquire& operator=(const waiting_in_acquire&) = delete;
    schedule<Sem>& m_s;
    bool m_counted = true;
};

/// Counts a permit as held until destroyed (also when the task is cancelled meanwhile), then
/// releases it, unless a guard does.
template <class Sem>
struct held_permit {
    held_permit(schedule<Sem>& s, bool release) : m_s(s), m_release(release) { m_s.took(); }
    ~held_permit() { m_s.give(m_release); }
    held_permit(const held_permit&) = delete;
    held_permit& operator=(const held_permit&) = delete;
    schedule<Sem>& m_s;
    bool m_release;
};

template <class Sem>
aio::task<void> acquire_one(Sem& sem) {
    co_await sem.acquire();
}

template <class Sem>
aio::task<void> hold(schedule<Sem>& s) {
    const unsigned pauses = s.pick(4);
    for (unsigned i = 0; i < pauses; ++i) {
        co_await aio::sleep(0ms);
    }
    if (s.pick(8) == 0) {
        co_await aio::sleep(std::chrono::microseconds(s.pick(200)));
    }
}

template <class Sem>
aio::task<void> worker(schedule<Sem>& s, int rounds) {
    for (int k = 0; k < rounds && !s.stop; ++k) {
        const unsigned how = s.pick(3);
        if (how == 2) {  // scoped: the guard releases
            waiting_in_acquire<Sem> counted(s);
            auto guard = co_await s.sem.scoped();
            counted.done();
            const held_permit<Sem> permit(s, false);  // destroyed first: counts the release
            co_await hold(s);
            continue;
        }
        bool ok = false;
        {
            const waiting_in_acquire<Sem> counted(s);
            try {
                if (how == 0) {
                    auto bounded =
                        aio::wait_for(acquire_one(s.sem), std::chrono::microseconds(s.pick(300)));
                    co_await bounded;
                } else {
                    co_await s.sem.acquire();
                }
                ok = true;
            } catch (const aio::timeout_error&) {
            }
        }
        if (ok) {
            const held_permit<Sem> permit(s, true);
            co_await hold(s);
        }
        if (s.pick(3) == 0) {
            co_await aio::sleep(0ms);
        }
    }
}

template <class Sem>
aio::task<void> run_schedule(schedule<Sem>& s) {
    std::vector<aio::task_handle<void>> workers;
    const int n = 2 + static_cast<int>(s.pick(8));
    for (int w = 0; w < n; ++w) {
        workers.push_back(aio::create_task(worker(s, 1 + static_cast<int>(s.pick(8)))));
    }
    // Chaos, and the watch for a waiter left behind: a woken waiter runs on the next loop
    // iteration (a wait_for around the acquire takes a few), so a permit not held while tasks
    // wait for many iterations in a row means a lost wake-up.
    int free_with_waiters = 0;
    for (int i = 0; i < 200; ++i) {
        co_await aio::sleep(0ms);
        if (s.pick(6) == 0) {
            workers[s.pick(static_cast<unsigned>(workers.size()))].cancel();
        }
        if (s.waiting > 0 && s.held < s.bound) {
            if (++free_with_waiters > 50) {
                s.stranded = true;
            }
        } else {
            free_with_waiters = 0;
        }
    }
    s.stop = true;  // no new rounds: a waiter whose wake-up was lost would now wait forever
    for (auto& w : workers) {
        try {
            auto bounded = aio::wait_for(w, 10s);
            co_await bounded;  // timeout_error (a deadlock) fails the test
        } catch (const aio::cancelled_error&) {
        }
    }
}

template <class Sem>
void run_seeds() {
    const std::uint64_t first = env_or("AIO_SEMAPHORE_RANDOM_FIRST_SEED", 1);
    const std::uint64_t count = env_or("AIO_SEMAPHORE_RANDOM_SEEDS", 1000);
    for (std::uint64_t seed = first; seed < first + count; ++seed) {
        CAPTURE(seed);
        const long bound = 1 + static_cast<long>(seed % 4);
        schedule<Sem> s(static_cast<std::uint32_t>(seed), bound);
        REQUIRE_NOTHROW(aio::run(run_schedule(s)));
        REQUIRE(!s.over_bound);
        REQUIRE(!s.negative);
        REQUIRE(!s.bad_release);
        REQUIRE(!s.stranded);
        REQUIRE(s.held == 0);
        REQUIRE(s.waiting == 0);
        REQUIRE(s.acquires == s.releases);
        // Every permit is free again: `bound` acquires do not wait, one more would.
        for (long i = 0; i < bound; ++i) {
            REQUIRE_FALSE(s.sem.locked());
            aio::run([](Sem& sem) -> aio::task<void> { co_await sem.acquire(); }(s.sem));
        }
        REQUIRE(s.sem.locked());
        for (long i = 0; i < bound; ++i) {
            s.sem.release();
        }
    }
}

}  // namespace

TEST_CASE("random schedules over a semaphore keep the count within bounds and leave no waiter",
          "[semaphore][random][real_time]") {
    run_seeds<aio::semaphore>();
}

TEST_CASE("random schedules over a bounded semaphore keep the count within bounds, release "
          "each permit once and leave no waiter",
          "[semaphore][random][real_time]") {
    run_seeds<aio::bounded_semaphore>();
}
