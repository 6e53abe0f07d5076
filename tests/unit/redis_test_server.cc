#include "redis_test_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "common/util.h"
#include "free_port.h"

namespace tollgate::testing {
namespace {

namespace fs = std::filesystem;

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

RedisTestServer::~RedisTestServer() {
  Kill();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

Status RedisTestServer::Start() {
  if (std::system("command -v redis-server >/dev/null 2>&1") != 0)
    return Status::NotFound("redis-server is not installed: run scripts/install-deps.sh");
  if (dir_.empty()) {
    dir_ = (fs::temp_directory_path() / ("tollgate-redis-" + NewRequestId())).string();
    fs::create_directories(dir_);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = FreeLoopbackPort();
    const std::string port = std::to_string(port_);
    const pid_t pid = fork();
    if (pid == 0) {
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", dir_.c_str(), "--logfile",
             (dir_ + "/redis.log").c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    pid_ = pid;
    for (int i = 0; i < 500; ++i) {
      if (Accepts(port_)) return Status::Ok();
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) break;  // exited: the port was taken
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill();
  }
  return Status::IoError("redis-server did not start; see " + dir_ + "/redis.log");
}

void RedisTestServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGCONT);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

void RedisTestServer::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void RedisTestServer::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

}  // namespace tollgate::testing
