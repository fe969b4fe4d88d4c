// SPDX-License-Identifier: MIT
// The umbrella header: everything aio offers, nothing else.
#include "detail/config.hpp"  // first, before the include guard
#ifndef AIO_AIO_HPP_INCLUDED
#define AIO_AIO_HPP_INCLUDED

#include "any_task_handle.hpp"
#include "errors.hpp"
#include "event_loop.hpp"
#include "gather.hpp"
#include "locks.hpp"
#include "outcome.hpp"
#include "queue.hpp"
#include "run.hpp"
#include "shield.hpp"
#include "sleep.hpp"
#include "suspend.hpp"
#include "task.hpp"
#include "task_group.hpp"
#include "task_handle.hpp"
#include "version.hpp"
#include "wait.hpp"
#include "wait_for.hpp"

#endif
