// SPDX-License-Identifier: MIT
// A hint to start loading a coroutine frame that will be resumed soon.
//
// Why: with a million tasks the frames do not fit in any cache, and the loop walks them in an
// order it already knows (the ready queue, a sorted timer slot). Asking for the frame a few
// items ahead overlaps those cache misses instead of paying them one after another. A hint
// only: it never faults and changes no behaviour; compilers without the builtin get nothing.
#ifndef AIO_DETAIL_PREFETCH_HPP_INCLUDED
#define AIO_DETAIL_PREFETCH_HPP_INCLUDED

#include <cstddef>
#include <cstdint>

namespace aio::detail {

/// How many items ahead of the one being run the loop prefetches.
inline constexpr std::size_t prefetch_distance = 8;

/// Prefetches, for writing, the cache lines of the `bytes` starting at `address` (an integer:
/// the range may start a little before an object, which a pointer may not point to).
inline void prefetch_for_write(std::uintptr_t address, std::size_t bytes) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    for (std::size_t offset = 0; offset < bytes; offset += 64) {
        __builtin_prefetch(reinterpret_cast<const void*>(address + offset), 1, 3);
    }
#else
    (void)address;
    (void)bytes;
#endif
}

} // namespace aio::detail

#endif
