// SPDX-License-Identifier: MIT
// What aio needs from the compiler, checked before anything else is read: C++20 with
// coroutines (the language feature, __cpp_impl_coroutine, and the library's <coroutine>).
//
// Every public header but version.hpp (macros only, usable in any language mode) includes this
// file first, before its own include guard. Without C++20 coroutines the result is one #error
// line, not hundreds of errors from the headers: the public headers' include guards are
// defined here, so that their bodies (and the detail headers they would include) are skipped.
#ifndef AIO_DETAIL_CONFIG_HPP_INCLUDED
#define AIO_DETAIL_CONFIG_HPP_INCLUDED

#if defined(_MSVC_LANG) && _MSVC_LANG > __cplusplus
#define AIO_DETAIL_CPLUSPLUS _MSVC_LANG
#else
#define AIO_DETAIL_CPLUSPLUS __cplusplus
#endif

#if AIO_DETAIL_CPLUSPLUS >= 202002L && defined(__cpp_impl_coroutine) && defined(__has_include)
#if __has_include(<coroutine>)
#define AIO_DETAIL_HAVE_COROUTINES 1
#endif
#endif

#ifndef AIO_DETAIL_HAVE_COROUTINES
#error "aio requires C++20 coroutines: compile with -std=c++20 or later (g++ 12, clang++ 14)"
#define AIO_ADDRESS_HPP_INCLUDED
#define AIO_AIO_HPP_INCLUDED
#define AIO_BARRIER_HPP_INCLUDED
#define AIO_CONDITION_HPP_INCLUDED
#define AIO_ERRORS_HPP_INCLUDED
#define AIO_EVENT_HPP_INCLUDED
#define AIO_EVENT_LOOP_HPP_INCLUDED
#define AIO_GATHER_HPP_INCLUDED
#define AIO_LOCKS_HPP_INCLUDED
#define AIO_LOCK_HPP_INCLUDED
#define AIO_OUTCOME_HPP_INCLUDED
#define AIO_QUEUE_HPP_INCLUDED
#define AIO_RUN_HPP_INCLUDED
#define AIO_SEMAPHORE_HPP_INCLUDED
#define AIO_SHIELD_HPP_INCLUDED
#define AIO_SLEEP_HPP_INCLUDED
#define AIO_SOCKET_HPP_INCLUDED
#define AIO_SOCK_OPS_HPP_INCLUDED
#define AIO_STREAM_READER_HPP_INCLUDED
#define AIO_STREAM_WRITER_HPP_INCLUDED
#define AIO_SUSPEND_HPP_INCLUDED
#define AIO_TASK_GROUP_HPP_INCLUDED
#define AIO_TASK_HANDLE_HPP_INCLUDED
#define AIO_TASK_HPP_INCLUDED
#define AIO_TO_THREAD_HPP_INCLUDED
#define AIO_WAIT_FOR_HPP_INCLUDED
#define AIO_WAIT_HPP_INCLUDED
#endif

#endif
