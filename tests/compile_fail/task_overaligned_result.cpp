// SPDX-License-Identifier: MIT
// task<T> of a T aligned to more than 16 bytes: the frame is found from the promise's address,
// which allows at most 16.
// expect-error: aio::task<T>: T may be at most 16-byte aligned
#include <aio/task.hpp>

struct alignas(32) wide {
    int value = 0;
};

aio::task<wide> make_wide() {
    co_return wide{};
}
