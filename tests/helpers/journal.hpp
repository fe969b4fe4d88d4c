// SPDX-License-Identifier: MIT
//
// journal: what the tasks of a scenario noted, in the order they noted it ("1 done",
// "worker cancelled", "swallowed"). A test passes one by reference to every task it starts and
// compares the whole journal at the end, which asserts both what happened and in which order.
// Single-threaded, like aio: the tasks of one loop append to it without a lock.
#ifndef AIO_TESTS_HELPERS_JOURNAL_HPP_INCLUDED
#define AIO_TESTS_HELPERS_JOURNAL_HPP_INCLUDED

#include <string>
#include <vector>

using journal = std::vector<std::string>;

#endif  // AIO_TESTS_HELPERS_JOURNAL_HPP_INCLUDED
