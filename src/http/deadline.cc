#include "http/deadline.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace tollgate::http {

Deadline::Deadline(DeadlineWheel& wheel, boost::asio::ip::tcp::socket& socket)
    : wheel_(wheel), socket_(socket) {
  wheel_.Link(this);
}

Deadline::~Deadline() { wheel_.Unlink(this); }

void Deadline::Arm(int64_t timeout_ms) {
  at_ms_ = DeadlineWheel::NowMs() + timeout_ms;
  fired_ = false;
}

int64_t DeadlineWheel::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void DeadlineWheel::Link(Deadline* d) {
  d->next_ = head_;
  if (head_) head_->prev_ = d;
  head_ = d;
}

void DeadlineWheel::Unlink(Deadline* d) {
  if (d->prev_)
    d->prev_->next_ = d->next_;
  else if (head_ == d)
    head_ = d->next_;
  if (d->next_) d->next_->prev_ = d->prev_;
  d->prev_ = d->next_ = nullptr;
}

void DeadlineWheel::Start() {
  if (running_) return;
  running_ = true;
  boost::asio::co_spawn(ioc_, Tick(), boost::asio::detached);
}

boost::asio::awaitable<void> DeadlineWheel::Tick() {
  boost::asio::steady_timer timer(ioc_);
  while (running_) {
    timer.expires_after(std::chrono::milliseconds(kTickMs));
    boost::system::error_code ec;
    co_await timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (ec || !running_) break;
    CancelExpired(expire_all_ ? Deadline::kNever - 1 : NowMs());
  }
}

void DeadlineWheel::CancelExpired(int64_t now) {
  for (Deadline* d = head_; d != nullptr; d = d->next_) {
    if (d->at_ms_ > now) continue;
    d->fired_ = true;
    boost::system::error_code ignored;
    d->socket_.cancel(ignored);
  }
}

void DeadlineWheel::ExpireAll() {
  expire_all_ = true;
  CancelExpired(Deadline::kNever - 1);
}

}  // namespace tollgate::http
