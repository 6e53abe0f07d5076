// Coarse per-worker deadlines for sockets. Arming a Deadline is two stores and
// no system call; once every tick (kTickMs) the worker's DeadlineWheel cancels
// the pending operations of every socket whose armed deadline has passed (and
// keeps cancelling while it stays armed and expired), so a timed-out read or
// write completes with operation_aborted and Deadline::fired() says why.
// Per-operation Asio timers cost an epoll wake-up and an eventfd write each;
// this costs nothing per operation (docs/BENCHMARKS.md). A timeout fires
// between its nominal time and one tick later.
// Thread safety: a wheel and its deadlines belong to one worker's thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <cstdint>
#include <limits>

namespace tollgate::http {

class DeadlineWheel;

class Deadline {
 public:
  // Registers `socket` with `wheel`; both must outlive this Deadline.
  Deadline(DeadlineWheel& wheel, boost::asio::ip::tcp::socket& socket);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // Cancels the socket's operations if they are still pending `timeout_ms` from now.
  void Arm(int64_t timeout_ms);
  void Disarm() { at_ms_ = kNever; }
  // True if the deadline armed last passed and the socket was cancelled.
  bool fired() const { return fired_; }

 private:
  friend class DeadlineWheel;
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  DeadlineWheel& wheel_;
  boost::asio::ip::tcp::socket& socket_;
  int64_t at_ms_ = kNever;
  bool fired_ = false;
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
};

class DeadlineWheel {
 public:
  static constexpr int64_t kTickMs = 25;
  explicit DeadlineWheel(boost::asio::io_context& ioc) : ioc_(ioc) {}
  // Runs the ticks on the wheel's io_context until Stop() or the context stops.
  void Start();
  void Stop() { running_ = false; }
  // From now on every armed deadline counts as passed: the sockets of every
  // pending timed operation are cancelled now and at each tick (shutdown's
  // cut of in-flight requests). Call on the wheel's thread.
  void ExpireAll();
  // Milliseconds on the steady clock.
  static int64_t NowMs();

 private:
  friend class Deadline;
  boost::asio::awaitable<void> Tick();
  void Link(Deadline* d);
  void Unlink(Deadline* d);
  // Cancels the sockets of the deadlines armed for `now` or earlier.
  void CancelExpired(int64_t now);

  boost::asio::io_context& ioc_;
  Deadline* head_ = nullptr;
  bool running_ = false;
  bool expire_all_ = false;
};

}  // namespace tollgate::http
