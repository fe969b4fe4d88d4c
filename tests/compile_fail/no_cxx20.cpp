// SPDX-License-Identifier: MIT
// Without C++20 coroutines, <aio/aio.hpp> stops with one clear #error (detail/config.hpp)
// instead of hundreds of errors from the headers.
// std: c++17
// error-count: 1
// expect-error: aio requires C++20 coroutines: compile with -std=c++20 or later
#include <aio/aio.hpp>

int main() {}
