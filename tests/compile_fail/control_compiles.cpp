// SPDX-License-Identifier: MIT
// The control: the correct use of what the other files here misuse compiles cleanly, so a
// broken driver (wrong compiler, include path or flags) fails this test instead of passing
// every expected failure.
// expect-success
#include <aio/aio.hpp>

#include <utility>
#include <vector>

namespace {

aio::task<int> one() {
    co_return 1;
}

aio::task<void> correct_use() {
    aio::task<int> t = one();
    auto [a] = co_await aio::gather(std::move(t));
    std::vector<aio::task<int>> tasks;
    tasks.push_back(one());
    std::vector<int> results = co_await aio::gather(std::move(tasks));
    (void)a;
    (void)results;
}

}  // namespace

int main() {
    aio::run(correct_use());
}
