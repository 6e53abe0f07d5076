#include "gateway/access_log.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/json.h"

namespace tollgate::gateway {

std::string FormatAccessLine(const AccessEntry& e, int64_t now_unix_ms, int64_t now_us) {
  rapidjson::StringBuffer sb;
  JsonWriter w(sb);
  auto str = [&](const char* k, std::string_view v) {
    w.Key(k);
    WriteString(w, v);
  };
  w.StartObject();
  w.Key("ts_ms");
  w.Int64(now_unix_ms);
  str("method", e.method);
  str("path", e.path);
  w.Key("status");
  w.Int(e.api && e.row.status != 0 ? e.row.status : e.status);
  w.Key("latency_ms");
  w.Double(static_cast<double>(now_us - e.start_us) / 1000.0);
  if (e.api) {
    const ledger::Row& r = e.row;
    str("request_id", r.id);
    str("model", r.requested_model);
    if (!r.served_model.empty()) str("served_model", r.served_model);
    if (!r.provider.empty()) str("provider", r.provider);
    w.Key("input_tokens");
    w.Int64(r.usage.input + r.usage.cache_read + r.usage.cache_write_5m + r.usage.cache_write_1h);
    w.Key("output_tokens");
    w.Int64(r.usage.output + r.usage.reasoning);
    w.Key("cost_usd");
    if (r.cost_known)
      w.Double(r.cost.Total());
    else
      w.Null();
    if (!r.api_key.empty()) str("key", r.api_key);
    if (!r.user.empty()) str("user", r.user);
    if (!r.session.empty()) str("session", r.session);
    if (!r.error_class.empty()) str("error", r.error_class);
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const std::string& target) {
  if (target == "-" || target == "stderr")
    return std::unique_ptr<AccessLog>(new AccessLog(stderr, false));
  std::FILE* f = std::fopen(target.c_str(), "ae");
  if (f == nullptr)
    return Status::IoError("server.access_log: cannot open " + target + ": " +
                           std::strerror(errno));
  return std::unique_ptr<AccessLog>(new AccessLog(f, true));
}

AccessLog::AccessLog(std::FILE* file, bool owned) : file_(file), owned_(owned) {
  thread_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  wake_.Signal();
  thread_.join();
  if (owned_) std::fclose(file_);
}

void AccessLog::Append(std::string line) {
  {
    MutexLock lock(&mu_);
    queue_.push_back(std::move(line));
    ++queued_;
  }
  wake_.Signal();
}

void AccessLog::Flush() {
  MutexLock lock(&mu_);
  const uint64_t target = queued_;
  while (written_count_ < target) written_.Wait(&mu_);
}

void AccessLog::Run() {
  std::vector<std::string> batch;
  for (;;) {
    bool stop = false;
    {
      MutexLock lock(&mu_);
      while (queue_.empty() && !stop_) wake_.Wait(&mu_);
      batch.swap(queue_);
      stop = stop_;
    }
    for (const std::string& line : batch) {
      std::fwrite(line.data(), 1, line.size(), file_);
      std::fputc('\n', file_);
    }
    std::fflush(file_);
    {
      MutexLock lock(&mu_);
      written_count_ += batch.size();
    }
    written_.SignalAll();
    batch.clear();
    if (stop) {
      MutexLock lock(&mu_);
      if (queue_.empty()) return;
    }
  }
}

}  // namespace tollgate::gateway
