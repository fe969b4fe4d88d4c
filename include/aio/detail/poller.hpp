// SPDX-License-Identifier: MIT
// detail::poller: the loop's blocking wait, chosen at compile time. epoll on Linux
// (poller_epoll.hpp), the standard-library backend elsewhere or when AIO_POLLER_PORTABLE is
// defined (CMake: -DAIO_POLLER=portable). Both offer the same calls: add / modify / remove an
// fd's interest, wait(deadline, sink), wake(), registered().
#ifndef AIO_DETAIL_POLLER_HPP_INCLUDED
#define AIO_DETAIL_POLLER_HPP_INCLUDED

#if defined(__linux__) && !defined(AIO_POLLER_PORTABLE)
#include "poller_epoll.hpp"
#define AIO_POLLER_EPOLL 1
#else
#include "poller_portable.hpp"
#define AIO_POLLER_EPOLL 0
#endif

namespace aio::detail {

#if AIO_POLLER_EPOLL
using poller = poller_epoll;
#else
using poller = poller_portable;
#endif

}  // namespace aio::detail

#endif
