// SPDX-License-Identifier: MIT
// echo_pair: 14_echo_server and 15_echo_client run together, checked from outside (the CTest
// test aio.example.echo_pair).
//
//     echo_pair <path to 14_echo_server> <path to 15_echo_client>
//
// Starts the server on 127.0.0.1 with port 0, reads the port from its first line ("Serving on
// 127.0.0.1:<port>"), runs the client against it twice and checks the client's three lines
// each time, then sends the server SIGINT and checks its lines: per connection "Received
// 'Hello World!' from 127.0.0.1:<port>", "Send: 'Hello World!'", "Close the connection", and
// "Server stopped" at the end, exit status 0. Every wait is bounded: a child that does not end
// is killed and the check fails. Exit status 0 when everything holds, 1 otherwise (what failed
// on stderr).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <regex>
#include <string>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
    if (!ok) {
        std::fprintf(stderr, "echo_pair: FAILED: %s\n", what.c_str());
        ++failures;
    }
}

// Starts `argv` with stdout on a pipe; returns the pid and the pipe's read end.
pid_t spawn_piped(char* const argv[], int& out) {
    int fds[2];
    if (::pipe(fds) != 0) {
        return -1;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv, environ) != 0) {
        pid = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    out = fds[0];
    return pid;
}

// Reads from `fd` until `until` matches what came, end of file, or `seconds` pass ("x^"
// never matches: until end of file).
std::string read_until(int fd, const std::regex& until, int seconds) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!std::regex_search(text, until) && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

// Waits up to `seconds` for `pid`; kills it after that. Its exit status, or -1.
int wait_bounded(pid_t pid, int seconds) {
    int status = 0;
    for (int i = 0; i < seconds * 100; ++i) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: echo_pair <14_echo_server> <15_echo_client>\n");
        return 1;
    }
    char port_zero[] = "0";
    char* server_argv[] = {argv[1], port_zero, nullptr};
    int server_out = -1;
    const pid_t server = spawn_piped(server_argv, server_out);
    if (server < 0) {
        std::fprintf(stderr, "echo_pair: cannot start %s\n", argv[1]);
        return 1;
    }
    const std::regex serving(R"(Serving on 127\.0\.0\.1:(\d+)\n)");
    std::string server_text = read_until(server_out, serving, 30);
    std::smatch port_match;
    if (!std::regex_search(server_text, port_match, serving)) {
        check(false,
              "the server's first line is 'Serving on 127.0.0.1:<port>', got: " + server_text);
        ::kill(server, SIGKILL);
        wait_bounded(server, 10);
        return 1;
    }
    std::string port = port_match[1];
    check(port != "0", "the server prints the port it picked");

    const std::regex client_lines(
        "Send: 'Hello World!'\nReceived: 'Hello World!'\nClose the connection\n");
    for (int round = 0; round < 2; ++round) {
        char* client_argv[] = {argv[2], port.data(), nullptr};
        int client_out = -1;
        const pid_t client = spawn_piped(client_argv, client_out);
        check(client > 0, "the client starts");
        if (client <= 0) {
            break;
        }
        const std::string client_text = read_until(client_out, std::regex("x^"), 30);
        ::close(client_out);
        check(wait_bounded(client, 30) == 0, "the client exits with 0");
        check(std::regex_search(client_text, client_lines),
              "the client prints what the asyncio example prints, got: " + client_text);
    }

    const std::regex connection(
        "Received 'Hello World!' from 127\\.0\\.0\\.1:\\d+\nSend: 'Hello World!'\nClose the "
        "connection\n");
    server_text += read_until(server_out, std::regex("(Close the connection\n[\\s\\S]*){2}"), 30);
    ::kill(server, SIGINT);
    server_text += read_until(server_out, std::regex("x^"), 30);  // until end of file
    ::close(server_out);
    check(wait_bounded(server, 30) == 0, "the server exits with 0 after Ctrl-C");
    const auto begin = std::sregex_iterator(server_text.begin(), server_text.end(), connection);
    check(std::distance(begin, std::sregex_iterator()) == 2,
          "the server prints three lines per connection, got: " + server_text);
    check(server_text.find("Server stopped\n") != std::string::npos,
          "the server prints 'Server stopped' after Ctrl-C, got: " + server_text);
    if (failures == 0) {
        std::printf("echo_pair: the server and the client printed what the asyncio docs show\n");
    }
    return failures == 0 ? 0 : 1;
}
