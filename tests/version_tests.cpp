// SPDX-License-Identifier: MIT
#include "helpers/catch.hpp"

#include <aio/version.hpp>

#include <string>

TEST_CASE("version macros, constants and version_string agree", "[version]") {
    STATIC_REQUIRE(aio::version_major == AIO_VERSION_MAJOR);
    STATIC_REQUIRE(aio::version_minor == AIO_VERSION_MINOR);
    STATIC_REQUIRE(aio::version_patch == AIO_VERSION_PATCH);

    const std::string expected = std::to_string(AIO_VERSION_MAJOR) + "." +
                                 std::to_string(AIO_VERSION_MINOR) + "." +
                                 std::to_string(AIO_VERSION_PATCH);
    CHECK(std::string(aio::version_string) == expected);
}

#ifdef AIO_EXPECTED_VERSION
TEST_CASE("CMake reads the project version from version.hpp", "[version]") {
    // AIO_EXPECTED_VERSION is ${PROJECT_VERSION}, which CMake parsed out of version.hpp.
    CHECK(std::string(aio::version_string) == AIO_EXPECTED_VERSION);
}
#endif
