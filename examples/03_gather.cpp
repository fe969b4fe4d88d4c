// SPDX-License-Identifier: MIT
// 03_gather: running coroutines concurrently — now the sleeps overlap.
//
//     import asyncio
//
//     async def square(name, x, delay):
//         await asyncio.sleep(delay)
//         print(f"{name} done")
//         return x * x
//
//     async def main():
//         loop = asyncio.get_running_loop()
//         start = loop.time()
//         a, b = await asyncio.gather(square("a", 2, 0.2), square("b", 3, 0.1))
//         print(f"a={a} b={b} in {loop.time() - start:.1f} s")
//         squares = await asyncio.gather(*[square(f"c{i}", i, 0.1) for i in range(4)])
//         print(squares)
//
//     asyncio.run(main())
#include <aio/aio.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

using seconds = std::chrono::duration<double>;

aio::task<int> square(std::string name, int x, double delay) {
    co_await aio::sleep(seconds(delay));
    fmt::print("{} done\n", name);
    co_return x * x;
}

aio::task<> async_main() {
    aio::event_loop& loop = aio::get_running_loop();
    const auto start = loop.time();
    // Arguments give a std::tuple, in argument order whatever the finishing order.
    auto [a, b] = co_await aio::gather(square("a", 2, 0.2), square("b", 3, 0.1));
    fmt::print("a={} b={} in {:.1f} s\n", a, b, seconds(loop.time() - start).count());

    // A range gives a std::vector. Tasks are moved in: each is awaited exactly once.
    std::vector<aio::task<int>> tasks;
    for (int i = 0; i < 4; ++i) {
        tasks.push_back(square(fmt::format("c{}", i), i, 0.1));
    }
    std::vector<int> squares = co_await aio::gather(std::move(tasks));
    fmt::print("{}\n", squares);
}

int main() {
    aio::run(async_main());
}

// Expected output:
// b done
// a done
// a=4 b=9 in ... s
// c0 done
// c1 done
// c2 done
// c3 done
// [0, 1, 4, 9]
