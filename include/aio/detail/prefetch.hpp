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

/// Prefetches, for writing, every cache line that holds a byte of [address, address + bytes)
/// (an integer: the range may start a little before an object, which a pointer may not point
/// to). Why by line: a 112-byte frame that starts 48 bytes into a line spans three lines.
inline void prefetch_for_write(std::uintptr_t address, std::size_t bytes) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    constexpr std::uintptr_t line = 64;
    for (std::uintptr_t p = address & ~(line - 1); p < address + bytes; p += line) {
        __builtin_prefetch(reinterpret_cast<const void*>(p), 1, 3);
    }
#else
    (void)address;
    (void)bytes;
#endif
}

} // namespace aio::detail

#endif
