// SPDX-License-Identifier: MIT
//
// await_each_other(&a, &b): the smallest deadlock — task A awaits task B and B awaits A; the
// loop must detect it (event_loop_error "deadlock") instead of blocking for ever.
//
// Lifetime: A owns a handle to B; B awaits A through the test's slot (no reference of its own),
// so once the loop is gone the test can drop the slots and the frames are torn down in a safe
// order (A first, which releases B). The two handles must therefore outlive the loop:
//
//     aio::task_handle<int> a, b;  // declared before the loop
//     loop.run_until_complete(await_each_other(&a, &b));  // throws event_loop_error
#ifndef AIO_TESTS_HELPERS_AWAIT_CYCLE_HPP_INCLUDED
#define AIO_TESTS_HELPERS_AWAIT_CYCLE_HPP_INCLUDED

#include <aio/event_loop.hpp>
#include <aio/task.hpp>
#include <aio/task_handle.hpp>

inline aio::task<int> await_own_copy(aio::task_handle<int>* slot) {
    aio::task_handle<int> other = *slot;
    const int value = co_await other;
    co_return value;
}

inline aio::task<int> await_through(aio::task_handle<int>* slot) {
    const int value = co_await *slot;
    co_return value;
}

inline aio::task<int> await_each_other(aio::task_handle<int>* a, aio::task_handle<int>* b) {
    *a = aio::create_task(await_own_copy(b));
    *b = aio::create_task(await_through(a));
    const int value = co_await *a;
    co_return value;
}

#endif  // AIO_TESTS_HELPERS_AWAIT_CYCLE_HPP_INCLUDED
