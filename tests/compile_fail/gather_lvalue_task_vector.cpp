// SPDX-License-Identifier: MIT
// gather(tasks) of a named vector of tasks: it would have to be emptied behind the caller's
// back, so it must be moved in.
// expect-error: aio::gather: pass a range of tasks as an rvalue (std::move(tasks))
#include <aio/gather.hpp>
#include <aio/task.hpp>

#include <vector>

aio::task<int> one() {
    co_return 1;
}

aio::task<void> misuse() {
    std::vector<aio::task<int>> tasks;
    tasks.push_back(one());
    auto g = aio::gather(tasks);
    (void)co_await g;
}
