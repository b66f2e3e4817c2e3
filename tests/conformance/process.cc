#include "tests/conformance/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace sluice::conformance {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : int(left);
}

// Waits for `fd` to be readable until `deadline`; false on timeout.
bool WaitReadable(int fd, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, POLLIN, 0};
    int n = poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::unique_ptr<ChildProcess> ChildProcess::Spawn(const Options& options, std::string* error) {
  int ready[2] = {-1, -1}, out[2] = {-1, -1};
  if (options.ready_fd >= 0 && pipe2(ready, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  if (options.capture_stdout && pipe2(out, O_CLOEXEC) != 0) {
    *error = std::string("pipe: ") + std::strerror(errno);
    return nullptr;
  }
  std::vector<char*> argv;
  for (const std::string& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  const char* stderr_path = options.stderr_path.empty() ? nullptr : options.stderr_path.c_str();

  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return nullptr;
  }
  if (pid == 0) {  // child: only async-signal-safe calls from here on
    if (options.capture_stdout) dup2(out[1], 1);
    if (stderr_path) {
      int fd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) dup2(fd, 2);  // the duplicate does not inherit O_CLOEXEC
    }
    if (options.ready_fd >= 0) {
      if (ready[1] == options.ready_fd) {
        fcntl(ready[1], F_SETFD, 0);  // dup2 onto itself would keep O_CLOEXEC
      } else {
        dup2(ready[1], options.ready_fd);
      }
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::unique_ptr<ChildProcess> child(new ChildProcess);
  child->pid_ = pid;
  if (options.ready_fd >= 0) close(ready[1]), child->ready_read_ = ready[0];
  if (options.capture_stdout) close(out[1]), child->stdout_read_ = out[0];
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) Stop(SIGKILL, Millis(5000));
  if (ready_read_ >= 0) close(ready_read_);
  if (stdout_read_ >= 0) close(stdout_read_);
}

std::string ChildProcess::ReadReady(Millis timeout) {
  std::string text;
  auto deadline = Clock::now() + timeout;
  while (ready_read_ >= 0 && WaitReadable(ready_read_, deadline)) {
    char buf[256];
    ssize_t n = read(ready_read_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the broker closed its end (or died)
    text.append(buf, size_t(n));
  }
  return text;
}

std::optional<std::string> ChildProcess::ReadLine(Millis timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    size_t nl = stdout_buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, nl);
      stdout_buffer_.erase(0, nl + 1);
      return line;
    }
    if (stdout_read_ < 0 || !WaitReadable(stdout_read_, deadline)) return std::nullopt;
    char buf[4096];
    ssize_t n = read(stdout_read_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    stdout_buffer_.append(buf, size_t(n));
  }
}

std::optional<int> ChildProcess::Poll() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
  return status_;
}

std::optional<int> ChildProcess::Wait(Millis timeout) {
  // waitpid has no timeout; poll it with a short back-off (bounded by `timeout`).
  auto deadline = Clock::now() + timeout;
  while (!Poll() && Clock::now() < deadline) std::this_thread::sleep_for(Millis(5));
  return status_;
}

int ChildProcess::Stop(int sig, Millis grace) {
  if (Poll()) return *status_;
  kill(pid_, sig);
  if (Wait(grace)) return *status_;
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = status;
  return status;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace sluice::conformance
