// SPDX-License-Identifier: MIT
// The few standard names aio needs from <functional> and <mutex> (std::reference_wrapper,
// std::ref, std::less; std::mutex, std::lock_guard), without the rest of those headers.
//
// why: <functional> brings std::function, the searchers and <unordered_map> (~14k preprocessed
// lines), <mutex> call_once, unique_lock and <tuple> (~3k), into every file that includes aio,
// for five names. libstdc++ defines these in small internal headers, which the baseline of
// <vector> and <chrono> includes already; with another standard library the public headers
// are included instead. The types are the std ones either way.
#ifndef AIO_DETAIL_STD_PARTS_HPP_INCLUDED
#define AIO_DETAIL_STD_PARTS_HPP_INCLUDED

#if __has_include(<bits/refwrap.h>) && __has_include(<bits/stl_function.h>) && \
    __has_include(<bits/std_mutex.h>)
#include <bits/refwrap.h>       // std::reference_wrapper, std::ref
#include <bits/std_mutex.h>     // std::mutex, std::lock_guard
#include <bits/stl_function.h>  // std::less
#else
#include <functional>
#include <mutex>
#endif

#endif
