// SPDX-License-Identifier: MIT
// 07_custom_awaiter: turn a callback-style API into something a task can co_await — and
// cancel — with the awaiter interface (<aio/suspend.hpp>). Python does it with a future:
//
//     import asyncio
//
//     async def read(sensor, latency):
//         fut = asyncio.get_running_loop().create_future()
//         request = sensor.start_read(latency, fut.set_result)    # the callback API
//         try:
//             return await fut
//         except asyncio.CancelledError:
//             sensor.cancel(request)                 # undo the wait: no callback comes later
//             raise
//
//     async def fail_soon():
//         await asyncio.sleep(0.01)
//         raise RuntimeError("boom")
//
//     async def main():
//         sensor = Sensor()
//         print("read", await read(sensor, 0.01))
//         try:
//             await asyncio.wait_for(read(sensor, 10), 0.02)
//         except TimeoutError:
//             print("timed out; pending requests:", sensor.pending)
//         try:
//             await asyncio.gather(read(sensor, 10), fail_soon())    # (TaskGroup in Python)
//         except RuntimeError as e:
//             print(f"gather failed ({e}); pending requests:", sensor.pending)
//         task = asyncio.create_task(read(sensor, 10))
//         await asyncio.sleep(0.01)
//         task.cancel()
//         ...
//
// The three moves of an awaitable built on aio::suspension: park the task (await_suspend),
// wake it from the callback, and resume — which throws cancelled_error if it was cancelled
// instead (await_resume). What undoes the wait (sensor.cancel) runs when it is cancelled.
#include <aio/aio.hpp>
#include <fmt/core.h>

#include <chrono>
#include <coroutine>
#include <stdexcept>

using namespace std::chrono_literals;

// A callback-style API, as a driver or a C library offers one. This one answers through the
// loop's call_later; a real one might answer from its own event source.
class sensor {
public:
    template <class F>
    aio::callback_handle start_read(std::chrono::milliseconds latency, F on_value) {
        ++pending;
        return aio::get_running_loop().call_later(latency, [this, on_value] {
            --pending;
            on_value(m_next++);
        });
    }
    void cancel(aio::callback_handle& request) {
        if (request.valid() && !request.cancelled()) {
            request.cancel();
            --pending;
        }
    }
    int pending = 0;  // requests started and not answered or cancelled

private:
    int m_next = 100;
};

// The awaitable. It *is* the suspension (privately), so that its cancel function, which is
// given the suspension, can reach the request to withdraw.
class read_awaiter : private aio::suspension {
public:
    read_awaiter(sensor& s, std::chrono::milliseconds latency) : m_sensor(s), m_latency(latency) {}
    read_awaiter(const read_awaiter&) = delete;
    read_awaiter& operator=(const read_awaiter&) = delete;
    // A frame destroyed mid-wait (its loop closed) must not be called back later.
    ~read_awaiter() { withdraw(*this); }

    bool await_ready() const noexcept { return false; }

    // why: park this task on the suspension (with what undoes the wait), then start the
    // request; its callback wakes the task, which resumes on a later loop iteration.
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> task) {
        if (!park(task, &withdraw)) {
            return false;  // a cancellation is already pending: await_resume throws it
        }
        m_request = m_sensor.start_read(m_latency, [this](int value) {
            m_answered = true;  // nothing left to withdraw
            m_value = value;
            wake();
        });
        return true;
    }

    int await_resume() {
        resume();  // throws aio::cancelled_error if the task was cancelled while it waited
        return m_value;
    }

private:
    static void withdraw(aio::suspension& self) noexcept {
        auto& me = static_cast<read_awaiter&>(self);
        if (!me.m_answered) {
            me.m_sensor.cancel(me.m_request);
        }
    }

    sensor& m_sensor;
    std::chrono::milliseconds m_latency;
    aio::callback_handle m_request;
    int m_value = 0;
    bool m_answered = false;
};

read_awaiter read(sensor& s, std::chrono::milliseconds latency) {
    return read_awaiter(s, latency);
}

aio::task<int> read_task(sensor& s, std::chrono::milliseconds latency) {
    co_return co_await read(s, latency);
}

aio::task<int> fail_soon() {
    co_await aio::sleep(10ms);
    throw std::runtime_error("boom");
}

aio::task<> async_main() {
    sensor s;
    fmt::print("read {}\n", co_await read(s, 10ms));

    try {  // cancelled by a timeout
        co_await aio::wait_for(read_task(s, 10s), 20ms);
    } catch (const aio::timeout_error&) {
        fmt::print("timed out; pending requests: {}\n", s.pending);
    }

    try {  // cancelled because a sibling failed
        co_await aio::gather(read_task(s, 10s), fail_soon());
    } catch (const std::runtime_error& e) {
        fmt::print("gather failed ({}); pending requests: {}\n", e.what(), s.pending);
    }

    // cancelled directly
    aio::task_handle<int> task = aio::create_task(read_task(s, 10s));
    co_await aio::sleep(10ms);
    task.cancel();
    try {
        co_await task;
    } catch (const aio::cancelled_error&) {
        fmt::print("cancelled; pending requests: {}\n", s.pending);
    }

    fmt::print("read {}\n", co_await read(s, 10ms));  // no value went to a cancelled read
}

int main() {
    aio::run(async_main());
}

// Expected output:
// read 100
// timed out; pending requests: 0
// gather failed (boom); pending requests: 0
// cancelled; pending requests: 0
// read 101
