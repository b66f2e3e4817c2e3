// A child process for the conformance tests: fork/exec with optional pipes, bounded waits,
// and a destructor that always kills and reaps (no zombies, no orphaned brokers).
//
// Not thread-safe; one owner.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::conformance {

using Millis = std::chrono::milliseconds;

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the executable path
    int ready_fd = -1;      // if >= 0, the write end of a pipe is this fd number in the child
    bool capture_stdout = false;
    std::string stderr_path;  // if set, the child's stderr goes to this file (truncated)
  };

  // Returns nullptr and sets *error if fork/exec setup failed. An exec failure shows up as the
  // child exiting with status 127.
  static std::unique_ptr<ChildProcess> Spawn(const Options& options, std::string* error);
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Reads from the ready pipe until EOF or `timeout`; the text read so far is returned.
  std::string ReadReady(Millis timeout);
  // Reads one line (without '\n') of captured stdout; nullopt on EOF or timeout.
  std::optional<std::string> ReadLine(Millis timeout);

  // Exit status in waitpid() form if the child has exited (reaps it), nullopt if running.
  std::optional<int> Poll();
  // Waits up to `timeout` for exit; nullopt if still running.
  std::optional<int> Wait(Millis timeout);
  // Sends `sig`, waits up to `grace`, then SIGKILLs and reaps. Returns the waitpid status.
  int Stop(int sig, Millis grace);

 private:
  ChildProcess() = default;

  pid_t pid_ = -1;
  std::optional<int> status_;
  int ready_read_ = -1;
  int stdout_read_ = -1;
  std::string stdout_buffer_;
};

// "exited with 1", "killed by signal 11", for failure messages.
std::string DescribeStatus(int status);

}  // namespace sluice::conformance
