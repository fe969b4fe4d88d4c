// SPDX-License-Identifier: MIT
// io_events: what a poller is asked to watch on an fd (interest) and what it reports (events):
// readable, writable, or both. asyncio equivalent: selectors.EVENT_READ / EVENT_WRITE.
#ifndef AIO_DETAIL_IO_EVENTS_HPP_INCLUDED
#define AIO_DETAIL_IO_EVENTS_HPP_INCLUDED

namespace aio::detail {

enum class io_events : unsigned char {
    none = 0,
    readable = 1,
    writable = 2,
    both = readable | writable,
};

constexpr io_events operator|(io_events a, io_events b) noexcept {
    return static_cast<io_events>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}

constexpr io_events operator&(io_events a, io_events b) noexcept {
    return static_cast<io_events>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}

/// The other directions: ~readable is writable.
constexpr io_events operator~(io_events e) noexcept {
    return static_cast<io_events>(~static_cast<unsigned>(e) &
                                  static_cast<unsigned>(io_events::both));
}

/// Whether `events` has any of the bits of `which`.
constexpr bool has_any(io_events events, io_events which) noexcept {
    return (events & which) != io_events::none;
}

}  // namespace aio::detail

#endif
