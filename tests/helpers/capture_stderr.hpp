// SPDX-License-Identifier: MIT
//
// capture_stderr: redirects file descriptor 2 into a temporary file for as long as it lives,
// so tests can check what aio reports on stderr ("task exception was never retrieved").
//
//     capture_stderr capture;
//     ...code that writes to stderr...
//     const std::string text = capture.stop();   // restores stderr and returns what was written
//
// POSIX only (dup/dup2), like the rest of the test machinery.
#ifndef AIO_TESTS_HELPERS_CAPTURE_STDERR_HPP_INCLUDED
#define AIO_TESTS_HELPERS_CAPTURE_STDERR_HPP_INCLUDED

#include <cstdio>
#include <stdexcept>
#include <string>

#include <unistd.h>

class capture_stderr {
public:
    capture_stderr() : m_file(std::tmpfile()) {
        if (m_file == nullptr) {
            throw std::runtime_error("capture_stderr: tmpfile failed");
        }
        std::fflush(stderr);
        m_saved = ::dup(STDERR_FILENO);
        if (m_saved < 0 || ::dup2(::fileno(m_file), STDERR_FILENO) < 0) {
            std::fclose(m_file);
            throw std::runtime_error("capture_stderr: dup/dup2 failed");
        }
    }
    capture_stderr(const capture_stderr&) = delete;
    capture_stderr& operator=(const capture_stderr&) = delete;
    ~capture_stderr() {
        restore();
        std::fclose(m_file);
    }

    /// Restores stderr and returns everything written to it since construction.
    std::string stop() {
        restore();
        std::string text;
        std::rewind(m_file);
        char buffer[512];
        std::size_t n = 0;
        while ((n = std::fread(buffer, 1, sizeof buffer, m_file)) > 0) {
            text.append(buffer, n);
        }
        return text;
    }

private:
    void restore() noexcept {
        if (m_saved >= 0) {
            std::fflush(stderr);
            ::dup2(m_saved, STDERR_FILENO);
            ::close(m_saved);
            m_saved = -1;
        }
    }

    std::FILE* m_file;
    int m_saved = -1;
};

#endif // AIO_TESTS_HELPERS_CAPTURE_STDERR_HPP_INCLUDED
