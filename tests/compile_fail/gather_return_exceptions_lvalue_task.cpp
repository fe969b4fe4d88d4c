// SPDX-License-Identifier: MIT
// gather(return_exceptions, t) of a named task: a task is awaited once, so it must be moved in.
// expect-error: aio::gather: pass tasks as rvalues (std::move(t)); a task is awaited once
#include <aio/gather.hpp>
#include <aio/task.hpp>

aio::task<int> one() {
    co_return 1;
}

aio::task<void> misuse() {
    aio::task<int> t = one();
    auto g = aio::gather(aio::return_exceptions, t);
    (void)co_await g;
}
