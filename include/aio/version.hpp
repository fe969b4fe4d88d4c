// SPDX-License-Identifier: MIT
//
// The library version, in one place. CMake reads the three AIO_VERSION_* macros below with a
// regex (see the top-level CMakeLists.txt), so keep each `#define` on its own line.
#ifndef AIO_VERSION_HPP_INCLUDED
#define AIO_VERSION_HPP_INCLUDED

#define AIO_VERSION_MAJOR 0
#define AIO_VERSION_MINOR 1
#define AIO_VERSION_PATCH 0

namespace aio {

inline constexpr int version_major = AIO_VERSION_MAJOR;
inline constexpr int version_minor = AIO_VERSION_MINOR;
inline constexpr int version_patch = AIO_VERSION_PATCH;

/// \brief The version as "MAJOR.MINOR.PATCH".
inline constexpr const char* version_string = "0.1.0";

} // namespace aio

#endif // AIO_VERSION_HPP_INCLUDED
