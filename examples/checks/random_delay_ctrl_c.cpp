// SPDX-License-Identifier: MIT
// random_delay_ctrl_c: Ctrl-C on the demo, checked from outside (the CTest tests
// aio.example.random_delay.signal_ctrl_c and .signal_ctrl_c_quiet).
//
//     random_delay_ctrl_c <path to random_delay> [--quiet]
//
// Starts random_delay as a child process with 6 tasks whose pauses (seed 8868) are either short
// (under 0.5 s) or long (over 10 s), waits until the short ones are done, sends SIGINT, and
// checks what the README promises: each task still sleeping logs "Task n - cancelled after S"
// (S no longer than its pause), the done ones keep their done lines, stdout is the summary
// "6 async tasks finished in S seconds (D done, C cancelled)." and the validation line, and the
// exit status is 130. With --quiet: 1000 long tasks, SIGINT once the child handles it (its
// /proc/<pid>/status says so) and its tasks have had a moment to start; no line on stderr,
// 0 done and 1000 cancelled. Every wait is bounded: a child that does not end is killed and
// the check fails. Exit status 0 when everything holds, 1 otherwise (what failed on stderr).
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

int failures = 0;
void fail(const std::string& what) {
    ++failures;
    std::fprintf(stderr, "random_delay_ctrl_c: %s\n", what.c_str());
}

// The child, its two output pipes, and what it has written so far.
struct child {
    pid_t pid = -1;
    int out = -1;
    int err = -1;
    std::string out_text;
    std::string err_text;

    // Reads what is there, waiting up to `limit`; false once both pipes are closed.
    bool pump(std::chrono::milliseconds limit) {
        pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
        const int n = ::poll(fds, 2, static_cast<int>(limit.count()));
        if (n < 0 && errno != EINTR) {
            fail(std::string("poll: ") + std::strerror(errno));
            return false;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
                char buffer[4096];
                const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
                if (got > 0) {
                    (i == 0 ? out_text : err_text).append(buffer, static_cast<std::size_t>(got));
                } else if (got == 0) {
                    ::close(fds[i].fd);
                    (i == 0 ? out : err) = -1;
                }
            }
        }
        return out >= 0 || err >= 0;
    }
};

child start(const std::vector<std::string>& args) {
    int out[2];
    int err[2];
    if (::pipe(out) < 0 || ::pipe(err) < 0) {
        std::perror("pipe");
        std::exit(1);
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addclose(&actions, err[0]);
    // SIGINT at its default in the child, as a shell starts a foreground program (a test
    // runner may have started this one with SIGINT ignored), and nothing blocked.
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t set;
    sigemptyset(&set);
    posix_spawnattr_setsigmask(&attributes, &set);
    sigaddset(&set, SIGINT);
    posix_spawnattr_setsigdefault(&attributes, &set);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv;
    for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    child c;
    const int error = ::posix_spawn(&c.pid, argv[0], &actions, &attributes, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    ::close(out[1]);
    ::close(err[1]);
    if (error != 0) {
        std::fprintf(stderr, "random_delay_ctrl_c: cannot start %s: %s\n", args[0].c_str(),
                     std::strerror(error));
        std::exit(1);
    }
    c.out = out[0];
    c.err = err[0];
    return c;
}

// Whether the child has a handler for SIGINT (the SigCgt mask of /proc/<pid>/status).
bool handles_sigint(pid_t pid) {
    std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
    if (f == nullptr) {
        return false;
    }
    char line[256];
    unsigned long long mask = 0;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::sscanf(line, "SigCgt: %llx", &mask) == 1) {
            break;
        }
    }
    std::fclose(f);
    return (mask >> (SIGINT - 1)) & 1;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

int hundredths(const std::string& text) {
    return static_cast<int>(std::lround(std::strtod(text.c_str(), nullptr) * 100));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3 || (argc == 3 && std::string(argv[2]) != "--quiet")) {
        std::fprintf(stderr, "usage: random_delay_ctrl_c <path to random_delay> [--quiet]\n");
        return 2;
    }
    const bool quiet = argc == 3;
    const int tasks = quiet ? 1000 : 6;
    std::vector<std::string> args = {argv[1], "--task-count", std::to_string(tasks)};
    if (quiet) {
        args.insert(args.end(), {"--min-pause", "20", "--max-pause", "30", "--quiet"});
    } else {
        args.insert(args.end(), {"--min-pause", "0.05", "--max-pause", "30", "--seed", "8868"});
    }
    const auto deadline = steady::now() + 60s;  // for the whole check
    child c = start(args);

    const std::regex await_re(R"(Task (\d+) - await a sleep for (\d+\.\d\d))");
    const std::regex done_re(R"(Task (\d+) - done with sleep for (\d+\.\d\d))");
    const std::regex cancelled_re(R"(Task (\d+) - cancelled after (\d+\.\d\d))");
    std::map<int, int> pause_of;  // task -> pause in hundredths
    std::set<int> short_tasks;    // expected done before the Ctrl-C
    bool ready = false;
    while (!ready && steady::now() < deadline) {
        if (!c.pump(10ms)) {
            break;
        }
        if (quiet) {
            ready = handles_sigint(c.pid);
            if (ready) {
                std::this_thread::sleep_for(1s);  // let the loop start the tasks
            }
            continue;
        }
        pause_of.clear();
        std::set<int> done;
        for (const std::string& line : lines_of(c.err_text)) {
            std::smatch m;
            if (std::regex_match(line, m, await_re)) {
                pause_of[std::stoi(m[1])] = hundredths(m[2]);
            } else if (std::regex_match(line, m, done_re)) {
                done.insert(std::stoi(m[1]));
            }
        }
        if (static_cast<int>(pause_of.size()) < tasks) {
            continue;
        }
        short_tasks.clear();
        for (const auto& [task, pause] : pause_of) {
            if (pause < 50) {
                short_tasks.insert(task);
            } else if (pause < 1000) {
                fail("task " + std::to_string(task) + "'s pause is neither short nor long: the " +
                     "seed no longer gives the pauses this check needs");
            }
        }
        ready = done == short_tasks;
    }
    if (!ready) {
        fail("the child did not get ready for Ctrl-C in time");
    }
    const auto interrupted_at = steady::now();
    ::kill(c.pid, SIGINT);
    while (steady::now() < deadline && c.pump(100ms)) {
    }
    int status = 0;
    if (c.out >= 0 || c.err >= 0) {
        fail("the child did not end within 60 s: killed");
        ::kill(c.pid, SIGKILL);
    }
    ::waitpid(c.pid, &status, 0);
    const auto took = steady::now() - interrupted_at;

    if (!WIFEXITED(status) || WEXITSTATUS(status) != 130) {
        fail(WIFSIGNALED(status)
                 ? "the child was ended by signal " + std::to_string(WTERMSIG(status))
                 : "exit status " + std::to_string(WEXITSTATUS(status)) + ", expected 130");
    }
    // stdout: the summary with its counts, then the validation line.
    const int expected_done = quiet ? 0 : static_cast<int>(short_tasks.size());
    const std::string n = std::to_string(tasks);
    const std::regex summary_re(
        n + R"( async tasks finished in (\d+\.\d\d) seconds \((\d+) done, )" +
        R"((\d+) cancelled\)\.\n)" + n + R"( async tasks validated in \d+\.\d\d seconds\.\n)");
    std::smatch m;
    if (!std::regex_match(c.out_text, m, summary_re)) {
        fail("stdout is not the summary and the validation line");
    } else if (std::stoi(m[2]) != expected_done || std::stoi(m[3]) != tasks - expected_done) {
        fail("the summary counts " + m[2].str() + " done and " + m[3].str() +
             " cancelled; expected " + std::to_string(expected_done) + " and " +
             std::to_string(tasks - expected_done));
    }
    // stderr: with --quiet nothing; else the await lines, the done lines of the short tasks and
    // a cancelled line for each long one, no longer than its pause.
    std::set<int> done;
    std::set<int> cancelled;
    for (const std::string& line : lines_of(c.err_text)) {
        std::smatch lm;
        if (quiet) {
            fail("--quiet, yet a line on stderr: '" + line + "'");
        } else if (std::regex_match(line, lm, await_re)) {
        } else if (std::regex_match(line, lm, done_re)) {
            done.insert(std::stoi(lm[1]));
        } else if (std::regex_match(line, lm, cancelled_re)) {
            const int task = std::stoi(lm[1]);
            cancelled.insert(task);
            if (hundredths(lm[2]) > pause_of[task]) {
                fail("'" + line + "': cancelled after longer than its pause");
            }
        } else {
            fail("unexpected line on stderr: '" + line + "'");
        }
    }
    if (!quiet) {
        if (done != short_tasks) {
            fail("the done lines are not those of the tasks with short pauses");
        }
        if (static_cast<int>(cancelled.size() + done.size()) != tasks) {
            fail("not every long task logged its cancellation");
        }
    }
    if (failures > 0) {
        std::fprintf(stderr, "--- stdout ---\n%s--- stderr ---\n%s", c.out_text.c_str(),
                     c.err_text.c_str());
        return 1;
    }
    std::printf("random_delay%s: Ctrl-C handled in %.2f s; exit status 130\n",
                quiet ? " --quiet" : "", std::chrono::duration<double>(took).count());
    return 0;
}
