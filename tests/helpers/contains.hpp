// SPDX-License-Identifier: MIT
//
// contains(text, part): whether `part` occurs in `text` — for checking a message (an exception's
// what(), what capture_stderr caught) by the words that matter rather than to the letter.
// Catch2's substring matcher is spelled differently in v2 and v3 (see catch.hpp); this is not.
#ifndef AIO_TESTS_HELPERS_CONTAINS_HPP_INCLUDED
#define AIO_TESTS_HELPERS_CONTAINS_HPP_INCLUDED

#include <string>

inline bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

#endif  // AIO_TESTS_HELPERS_CONTAINS_HPP_INCLUDED
