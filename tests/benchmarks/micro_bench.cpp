// SPDX-License-Identifier: MIT
// aio_micro_bench: the costs of aio's building blocks, one Google Benchmark each.
//
// Every benchmark runs its `for (auto _ : state)` loop *inside* one coroutine driven by one
// run_until_complete, so creating the loop and the driver coroutine is outside the timed region
// and each iteration is exactly the operation named:
//
//   BM_await_ready_task         co_await of a trivial task<int> that completes at once (frame
//                               allocated and freed each time; the asyncio equivalent is
//                               `await f()` of a coroutine that returns at once)
//   BM_create_then_await_task   the same, but the task object is created first and escapes
//                               (DoNotOptimize), so the frame cannot be elided
//   BM_await_ready_chain/D      a chain of D nested trivial awaits (per-level cost: ns / D)
//   BM_sleep0_yield             co_await sleep(0ms): a round trip through the ready queue
//   BM_sleep0_yield_many/K      K tasks yielding in turn (loop overhead shared by K)
//   BM_timer_tiny_sleep         co_await sleep(1ns): timer heap insert, idle wait, expiry
//   BM_sleep0_yield_virtual     BM_sleep0_yield on a loop with virtual time
//   BM_timer_tiny_sleep_virtual BM_timer_tiny_sleep on virtual time: the idle wait is a jump
//   BM_sleep0_yield_debug       BM_sleep0_yield with loop.set_debug(true) (each step timed,
//                               its task noted)
//   BM_sleep0_yield_traced      BM_sleep0_yield while a trace is written (to /dev/null)
//   BM_timer_heap/K             detail::timer_queue alone: K pushes (random deadlines) then K
//                               pops; reported per timer (push + pop)
//   BM_timer_cold/K             the same with each node in its own 256-byte block, as a timer
//                               lives in a sleeping task's frame: most node touches miss cache
//   BM_gather_tasks/N           co_await gather(vector of N trivial task<int>); ns/child counter
//   BM_gather_args3             co_await gather(a(), b(), c()) of trivial tasks
//   BM_create_task_await        h = loop.create_task(trivial()); co_await h
//   BM_create_tasks_gather/N    N create_task + gather(handles): the macro workload minus timers
//   BM_call_soon                loop.call_soon(callback) + its dispatch (the type-erased path)
//   BM_queue_ping_pong          a value to a partner task through one queue and back through
//                               another: one round trip (two get()s that park, two puts)
//   BM_queue_throughput/N       a producer puts N items through a queue of maxsize 64, the
//                               driver gets them: items/s and per_op per item
//   BM_loop_overhead            the harness alone: the timed loop in a coroutine around an
//                               empty asm statement (part of every row, ~0.3 ns)
//   BM_lock_uncontended         co_await lock.acquire(); lock.release() (the lock escapes, and a
//                               compiler barrier ends each iteration, so nothing is folded away)
//   BM_lock_handoff/T           T tasks each take the lock, yield holding it, release it: per_op
//                               per acquisition (every one a FIFO handoff to a parked waiter)
//   BM_event_wake/W             W tasks wait on an event, set() wakes them: per_op per waiter
//   BM_semaphore_tasks/T        T tasks pass a semaphore(10), yielding once inside: per task
//
// Counter per_op: CPU seconds per operation where an iteration holds several operations (per
// child, per yield, per timer); Google Benchmark prints it with an SI prefix ("21.5n" = 21.5 ns).
// On a shared machine read the CPU column (and per_op, which is CPU based), not Time.
#include <aio/aio.hpp>
#include <aio/trace.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

// A trivial coroutine that finishes at once. noinline-free on purpose: what a user writes.
aio::task<int> trivial(int x) { co_return x + 1; }
aio::task<void> trivial_void() { co_return; }

// Runs `body(state)` inside one coroutine on a fresh loop.
template <class Body>
void drive(benchmark::State& state, Body body) {
    aio::event_loop loop;
    loop.run_until_complete(body(state));
    loop.close();
}

// Adds the counter "per_op": CPU seconds per operation (Google Benchmark prints it with an SI
// prefix, e.g. "21.5n" = 21.5 ns), for benchmarks whose iteration holds several operations.
void set_per_op(benchmark::State& state, double ops_per_iteration) {
    state.counters["per_op"] = benchmark::Counter(
        static_cast<double>(state.iterations()) * ops_per_iteration,
        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- awaiting ---------------------------------------------------------------------------------

aio::task<void> await_ready_task(benchmark::State& state) {
    int sum = 0;
    for (auto _ : state) {
        int v = co_await trivial(sum);
        benchmark::DoNotOptimize(v);
        sum = v & 7;
    }
}
void BM_await_ready_task(benchmark::State& state) { drive(state, await_ready_task); }
BENCHMARK(BM_await_ready_task);

aio::task<void> create_then_await_task(benchmark::State& state) {
    for (auto _ : state) {
        aio::task<void> t = trivial_void();
        benchmark::DoNotOptimize(t);
        co_await std::move(t);
    }
}
void BM_create_then_await_task(benchmark::State& state) { drive(state, create_then_await_task); }
BENCHMARK(BM_create_then_await_task);

aio::task<int> chain(int depth) {
    if (depth <= 1) {
        co_return 1;
    }
    co_return 1 + co_await chain(depth - 1);
}
aio::task<void> await_ready_chain(benchmark::State& state) {
    const int depth = static_cast<int>(state.range(0));
    for (auto _ : state) {
        int v = co_await chain(depth);
        benchmark::DoNotOptimize(v);
    }
    set_per_op(state, depth);
}
void BM_await_ready_chain(benchmark::State& state) { drive(state, await_ready_chain); }
BENCHMARK(BM_await_ready_chain)->Arg(10);

// ---- the loop: yields and timers ------------------------------------------------------------

aio::task<void> sleep0_yield(benchmark::State& state) {
    for (auto _ : state) {
        co_await aio::sleep(0ms);
    }
}
void BM_sleep0_yield(benchmark::State& state) { drive(state, sleep0_yield); }
BENCHMARK(BM_sleep0_yield);

aio::task<void> yielder(std::int64_t rounds) {
    for (std::int64_t i = 0; i < rounds; ++i) {
        co_await aio::sleep(0ms);
    }
}
aio::task<void> sleep0_yield_many(benchmark::State& state) {
    const auto k = static_cast<std::size_t>(state.range(0));
    constexpr std::int64_t rounds = 100;
    for (auto _ : state) {
        std::vector<aio::task<void>> tasks;
        tasks.reserve(k);
        for (std::size_t i = 0; i < k; ++i) {
            tasks.push_back(yielder(rounds));
        }
        co_await aio::gather(std::move(tasks));
    }
    set_per_op(state, static_cast<double>(k * rounds));  // per yield, task setup amortised
}
void BM_sleep0_yield_many(benchmark::State& state) { drive(state, sleep0_yield_many); }
BENCHMARK(BM_sleep0_yield_many)->Arg(100);

aio::task<void> timer_tiny_sleep(benchmark::State& state) {
    for (auto _ : state) {
        co_await aio::sleep(1ns);
    }
}
void BM_timer_tiny_sleep(benchmark::State& state) { drive(state, timer_tiny_sleep); }
BENCHMARK(BM_timer_tiny_sleep);

// The same two on virtual time (event_loop{aio::virtual_time}): what the clock's branch costs
// a test, and that a timer's wait becomes a jump instead of a futex call.
template <class Body>
void drive_virtual(benchmark::State& state, Body body) {
    aio::event_loop loop{aio::virtual_time};
    loop.run_until_complete(body(state));
    loop.close();
}
void BM_sleep0_yield_virtual(benchmark::State& state) {
    drive_virtual(state, sleep0_yield);
}
BENCHMARK(BM_sleep0_yield_virtual);
void BM_timer_tiny_sleep_virtual(benchmark::State& state) {
    drive_virtual(state, timer_tiny_sleep);
}
BENCHMARK(BM_timer_tiny_sleep_virtual);

// Seeing what the loop does (README "Debugging"): a yield with debug mode on, and with a trace
// being written (to /dev/null: the formatting and bookkeeping, not the disk). Against
// BM_sleep0_yield (both off), the price of each; with both off the loop pays one branch.
void BM_sleep0_yield_debug(benchmark::State& state) {
    aio::event_loop loop;
    loop.set_debug(true);
    loop.run_until_complete(sleep0_yield(state));
    loop.close();
}
BENCHMARK(BM_sleep0_yield_debug);
void BM_sleep0_yield_traced(benchmark::State& state) {
    aio::event_loop loop;
    loop.start_trace("/dev/null");
    loop.run_until_complete(sleep0_yield(state));
    loop.close();
}
BENCHMARK(BM_sleep0_yield_traced);

void BM_timer_heap(benchmark::State& state) {
    const auto k = static_cast<std::size_t>(state.range(0));
    std::vector<aio::detail::timer_node> nodes(k);
    std::mt19937_64 gen(1);
    std::uniform_int_distribution<std::int64_t> ns(100'000'000, 1'000'000'000);
    const auto base = aio::detail::clock::now();
    for (auto& node : nodes) {
        node.m_deadline = base + std::chrono::nanoseconds(ns(gen));
    }
    aio::detail::timer_queue q;
    const auto far = aio::detail::clock::time_point::max();
    for (auto _ : state) {
        for (auto& node : nodes) {
            q.push(node);
        }
        while (aio::detail::timer_node* node = q.pop_expired(far)) {
            benchmark::DoNotOptimize(node);
        }
    }
    set_per_op(state, static_cast<double>(k));
}
BENCHMARK(BM_timer_heap)->Arg(1000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// why: BM_timer_heap's nodes are packed 2.7 to a cache line, so it hides what costs most in
// aio_delay_bench: a miss per node touched. Here each node starts its own 256-byte block (about
// a delay() frame), pushed in address order as the tasks start, popped in deadline order.
void BM_timer_cold(benchmark::State& state) {
    struct frame {
        aio::detail::timer_node node;
        unsigned char rest[256 - sizeof(aio::detail::timer_node)];
    };
    const auto k = static_cast<std::size_t>(state.range(0));
    std::vector<frame> frames(k);
    std::mt19937_64 gen(1);
    std::uniform_int_distribution<std::int64_t> ns(100'000'000, 1'000'000'000);
    const auto base = aio::detail::clock::now();
    for (frame& f : frames) {
        f.node.m_deadline = base + std::chrono::nanoseconds(ns(gen));
    }
    aio::detail::timer_queue q;
    const auto far = aio::detail::clock::time_point::max();
    for (auto _ : state) {
        for (frame& f : frames) {
            q.push(f.node);
        }
        while (aio::detail::timer_node* node = q.pop_expired(far)) {
            benchmark::DoNotOptimize(node->m_target);
        }
    }
    set_per_op(state, static_cast<double>(k));
}
BENCHMARK(BM_timer_cold)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// ---- gather and create_task -------------------------------------------------------------------

aio::task<void> gather_tasks(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        std::vector<aio::task<int>> tasks;
        tasks.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            tasks.push_back(trivial(static_cast<int>(i)));
        }
        std::vector<int> results = co_await aio::gather(std::move(tasks));
        benchmark::DoNotOptimize(results.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
    set_per_op(state, static_cast<double>(n));
}
void BM_gather_tasks(benchmark::State& state) { drive(state, gather_tasks); }
BENCHMARK(BM_gather_tasks)->Arg(10)->Arg(1000)->Arg(100'000);

aio::task<void> gather_args3(benchmark::State& state) {
    for (auto _ : state) {
        auto [a, b, c] = co_await aio::gather(trivial(1), trivial(2), trivial(3));
        benchmark::DoNotOptimize(a + b + c);
    }
    set_per_op(state, 3);
}
void BM_gather_args3(benchmark::State& state) { drive(state, gather_args3); }
BENCHMARK(BM_gather_args3);

aio::task<void> create_task_await(benchmark::State& state) {
    aio::event_loop& loop = aio::get_running_loop();
    for (auto _ : state) {
        auto h = loop.create_task(trivial(1));
        int v = co_await h;
        benchmark::DoNotOptimize(v);
    }
}
void BM_create_task_await(benchmark::State& state) { drive(state, create_task_await); }
BENCHMARK(BM_create_task_await);

aio::task<void> create_tasks_gather(benchmark::State& state) {
    aio::event_loop& loop = aio::get_running_loop();
    const auto n = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        std::vector<aio::task_handle<int>> handles;
        handles.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            handles.push_back(loop.create_task(trivial(static_cast<int>(i))));
        }
        std::vector<int> results = co_await aio::gather(handles);
        benchmark::DoNotOptimize(results.data());
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
    set_per_op(state, static_cast<double>(n));
}
void BM_create_tasks_gather(benchmark::State& state) { drive(state, create_tasks_gather); }
BENCHMARK(BM_create_tasks_gather)->Arg(1000)->Arg(100'000);

aio::task<void> call_soon(benchmark::State& state) {
    aio::event_loop& loop = aio::get_running_loop();
    std::int64_t calls = 0;
    for (auto _ : state) {
        loop.call_soon([&calls] { ++calls; });
        co_await aio::sleep(0ms);  // the callback runs before we are resumed
    }
    benchmark::DoNotOptimize(calls);
}
void BM_call_soon(benchmark::State& state) { drive(state, call_soon); }
BENCHMARK(BM_call_soon);

// The same through the cross-thread inbox, from the loop's own thread: its lock, push and drain
// (the wake-up coalesces: the eventfd is written once, the first time).
aio::task<void> call_soon_threadsafe(benchmark::State& state) {
    aio::event_loop& loop = aio::get_running_loop();
    std::int64_t calls = 0;
    for (auto _ : state) {
        loop.call_soon_threadsafe([&calls] { ++calls; });
        co_await aio::sleep(0ms);  // the next iteration takes the callback in behind us
    }
    benchmark::DoNotOptimize(calls);
}
void BM_call_soon_threadsafe(benchmark::State& state) { drive(state, call_soon_threadsafe); }
BENCHMARK(BM_call_soon_threadsafe);

// ---- coordination: queue, lock, event, semaphore ---------------------------------------------

aio::task<void> echo_partner(aio::queue<int>& in, aio::queue<int>& out) {
    for (;;) {
        out.put_nowait(co_await in.get());
    }
}

aio::task<void> queue_ping_pong(benchmark::State& state) {
    aio::queue<int> ping;
    aio::queue<int> pong;
    auto partner = aio::create_task(echo_partner(ping, pong));
    int v = 0;
    for (auto _ : state) {
        ping.put_nowait(v);
        v = co_await pong.get();
        benchmark::DoNotOptimize(v);
    }
    partner.cancel();
    try {
        co_await partner;
    } catch (const aio::cancelled_error&) {
    }
}
void BM_queue_ping_pong(benchmark::State& state) { drive(state, queue_ping_pong); }
BENCHMARK(BM_queue_ping_pong);

aio::task<void> produce(aio::queue<int>& q, int n) {
    for (int i = 0; i < n; ++i) {
        co_await q.put(i);
    }
}

aio::task<void> queue_throughput(benchmark::State& state) {
    const auto n = static_cast<int>(state.range(0));
    aio::queue<int> q(64);
    for (auto _ : state) {
        auto producer = aio::create_task(produce(q, n));
        int sum = 0;
        for (int i = 0; i < n; ++i) {
            sum += co_await q.get();
        }
        co_await producer;
        benchmark::DoNotOptimize(sum);
    }
    state.SetItemsProcessed(state.iterations() * n);
    set_per_op(state, n);
}
void BM_queue_throughput(benchmark::State& state) { drive(state, queue_throughput); }
BENCHMARK(BM_queue_throughput)->Arg(10'000);

// The harness alone, for the rows of a few nanoseconds: the same timed loop in a coroutine,
// around an empty asm statement (with a compiler barrier as its body instead, clang deletes the
// loop and reports 0 ns).
aio::task<void> loop_overhead(benchmark::State& state) {
    int nothing = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(nothing);
    }
    co_return;
}
void BM_loop_overhead(benchmark::State& state) { drive(state, loop_overhead); }
BENCHMARK(BM_loop_overhead);

aio::task<void> lock_uncontended(benchmark::State& state) {
    aio::lock lock;
    benchmark::DoNotOptimize(&lock);  // the lock escapes: its state is really read and written
    for (auto _ : state) {
        co_await lock.acquire();
        lock.release();
        benchmark::ClobberMemory();  // no folding of one iteration's release into the next
    }
}
void BM_lock_uncontended(benchmark::State& state) { drive(state, lock_uncontended); }
BENCHMARK(BM_lock_uncontended);

aio::task<void> lock_holder(aio::lock& lock, int rounds) {
    for (int r = 0; r < rounds; ++r) {
        co_await lock.acquire();
        co_await aio::sleep(0ms);  // the others queue up behind
        lock.release();
    }
}

aio::task<void> lock_handoff(benchmark::State& state) {
    const auto tasks = static_cast<std::size_t>(state.range(0));
    constexpr int rounds = 10;
    aio::lock lock;
    for (auto _ : state) {
        std::vector<aio::task<void>> holders;
        holders.reserve(tasks);
        for (std::size_t i = 0; i < tasks; ++i) {
            holders.push_back(lock_holder(lock, rounds));
        }
        co_await aio::gather(std::move(holders));
    }
    set_per_op(state, static_cast<double>(tasks) * rounds);
}
void BM_lock_handoff(benchmark::State& state) { drive(state, lock_handoff); }
BENCHMARK(BM_lock_handoff)->Arg(100);

aio::task<void> wait_event(aio::event& ev) { co_await ev.wait(); }

aio::task<void> event_wake(benchmark::State& state) {
    const auto waiters = static_cast<std::size_t>(state.range(0));
    aio::event ev;
    aio::event_loop& loop = aio::get_running_loop();
    for (auto _ : state) {
        std::vector<aio::task_handle<void>> handles;
        handles.reserve(waiters);
        for (std::size_t i = 0; i < waiters; ++i) {
            handles.push_back(loop.create_task(wait_event(ev)));
        }
        co_await aio::sleep(0ms);  // every waiter parks
        ev.set();
        co_await aio::gather(handles);
        ev.clear();
    }
    set_per_op(state, static_cast<double>(waiters));
}
void BM_event_wake(benchmark::State& state) { drive(state, event_wake); }
BENCHMARK(BM_event_wake)->Arg(1000);

aio::task<void> pass_semaphore(aio::semaphore& sem) {
    auto guard = co_await sem.scoped();
    co_await aio::sleep(0ms);
}

aio::task<void> semaphore_tasks(benchmark::State& state) {
    const auto tasks = static_cast<std::size_t>(state.range(0));
    aio::semaphore sem(10);
    for (auto _ : state) {
        std::vector<aio::task<void>> passers;
        passers.reserve(tasks);
        for (std::size_t i = 0; i < tasks; ++i) {
            passers.push_back(pass_semaphore(sem));
        }
        co_await aio::gather(std::move(passers));
    }
    set_per_op(state, static_cast<double>(tasks));
}
void BM_semaphore_tasks(benchmark::State& state) { drive(state, semaphore_tasks); }
BENCHMARK(BM_semaphore_tasks)->Arg(1000);

} // namespace

BENCHMARK_MAIN();
