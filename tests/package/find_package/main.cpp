// SPDX-License-Identifier: MIT
#include <aio/aio.hpp>

aio::task<int> answer() {
    co_return 42;
}

int main() {
    return aio::run(answer()) == 42 ? 0 : 1;
}
