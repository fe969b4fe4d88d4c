// SPDX-License-Identifier: MIT
// The synchronisation primitives of asyncio's locks module, one header each:
//
//     asyncio.Event                         aio::event             <aio/event.hpp>
//     asyncio.Lock                          aio::lock              <aio/lock.hpp>
//     asyncio.Semaphore, BoundedSemaphore   aio::semaphore, ...    <aio/semaphore.hpp>
//     asyncio.Condition                     aio::condition         <aio/condition.hpp>
//     asyncio.Barrier                       aio::barrier           <aio/barrier.hpp>
//
// All are built on the awaiter interface (<aio/suspend.hpp>) and belong to one loop's thread.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_LOCKS_HPP_INCLUDED
#define AIO_LOCKS_HPP_INCLUDED

#include "barrier.hpp"
#include "condition.hpp"
#include "event.hpp"
#include "lock.hpp"
#include "semaphore.hpp"

#endif
