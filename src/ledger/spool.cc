#include "ledger/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "common/log.h"

namespace tollgate::ledger {
namespace {

// One batch: magic "TGS1", payload length and the payload's CRC-32 (each a
// little-endian u32), then the payload: the row count (u32) and the rows, each
// field of Row in declaration order (RowFields). docs/ledger.md has the table.
// Version 2 added Row::session; a file written by version 1 (no session) still replays.
constexpr char kMagic[4] = {'T', 'G', 'S', '2'};
constexpr char kOldestVersion = '1';
constexpr size_t kHeaderBytes = 12;
// A batch is batch_size rows; a larger length is corruption, not a batch.
constexpr uint32_t kMaxPayload = 1u << 30;

uint32_t Crc32(std::string_view data) {
  boost::crc_32_type crc;
  crc.process_bytes(data.data(), data.size());
  return crc.checksum();
}

// Every persisted field of a Row, in the spool's order, for the encoder and the
// decoder alike: one list, so that the two cannot disagree.
template <class R, class F>
void RowFields(R& r, F& f, char version) {
  f(r.id), f(r.ts_start_ms), f(r.ts_end_ms), f(r.endpoint), f(r.api_key), f(r.user), f(r.project),
      f(r.tags), f(r.requested_model), f(r.served_model), f(r.provider), f(r.status),
      f(r.error_class);
  f(r.usage.input), f(r.usage.cache_read), f(r.usage.cache_write_5m), f(r.usage.cache_write_1h),
      f(r.usage.output), f(r.usage.reasoning);
  f(r.cost.input), f(r.cost.cache_read), f(r.cost.cache_write), f(r.cost.output),
      f(r.cost.reasoning);
  f(r.cost_known), f(r.latency_ms), f(r.ttft_ms), f(r.streamed), f(r.estimated), f(r.retries),
      f(r.fallbacks), f(r.price_version), f(r.key_id), f(r.team), f(r.reserved_usd), f(r.charges);
  f(r.baseline_model), f(r.baseline_cost_usd), f(r.cache), f(r.route), f(r.savings_lever),
      f(r.output_tokens_saved), f(r.quality);
  if (version >= '2') f(r.session);
}

class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(out) {}
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_->push_back(static_cast<char>(v >> (8 * i)));
  }
  void operator()(int64_t v) {
    for (int i = 0; i < 8; ++i)
      out_->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  void operator()(int v) { (*this)(static_cast<int64_t>(v)); }
  void operator()(bool v) { out_->push_back(v ? 1 : 0); }
  void operator()(double v) {
    int64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    (*this)(bits);
  }
  void operator()(const std::optional<double>& v) {
    (*this)(v.has_value());
    if (v) (*this)(*v);
  }
  void operator()(const std::string& v) {
    U32(static_cast<uint32_t>(v.size()));
    out_->append(v);
  }
  void operator()(const std::vector<Row::BudgetCharge>& v) {
    U32(static_cast<uint32_t>(v.size()));
    for (const auto& c : v) (*this)(c.budget_id), (*this)(c.window_start_ms);
  }

 private:
  std::string* out_;
};

// Reads what Encoder wrote; any short or inconsistent read clears ok().
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  uint32_t U32() {
    uint32_t v = 0;
    if (!Need(4)) return 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    return v;
  }
  void operator()(int64_t& v) {
    uint64_t u = 0;
    if (!Need(8)) return;
    for (int i = 0; i < 8; ++i)
      u |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
    v = static_cast<int64_t>(u);
  }
  void operator()(int& v) {
    int64_t w = 0;
    (*this)(w);
    v = static_cast<int>(w);
  }
  void operator()(bool& v) {
    if (Need(1)) v = in_[pos_++] != 0;
  }
  void operator()(double& v) {
    int64_t bits = 0;
    (*this)(bits);
    std::memcpy(&v, &bits, sizeof v);
  }
  void operator()(std::optional<double>& v) {
    bool present = false;
    (*this)(present);
    v.reset();
    if (present) (*this)(v.emplace());
  }
  void operator()(std::string& v) {
    const uint32_t n = U32();
    if (Need(n)) v.assign(in_.substr(pos_, n)), pos_ += n;
  }
  void operator()(std::vector<Row::BudgetCharge>& v) {
    const uint32_t n = U32();
    if (!Need(n)) return;  // each charge takes more than a byte: a cheap bound before allocating
    v.resize(n);
    for (auto& c : v) (*this)(c.budget_id), (*this)(c.window_start_ms);
  }

 private:
  bool Need(size_t n) {
    if (ok_ && in_.size() - pos_ >= n) return true;
    ok_ = false;
    return false;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

std::string EncodeBatch(const std::vector<Row>& rows) {
  std::string payload;
  Encoder e(&payload);
  e.U32(static_cast<uint32_t>(rows.size()));
  for (const Row& r : rows) RowFields(r, e, kMagic[3]);
  std::string record(kMagic, sizeof kMagic);
  Encoder h(&record);
  h.U32(static_cast<uint32_t>(payload.size()));
  h.U32(Crc32(payload));
  return record + payload;
}

bool DecodePayload(std::string_view payload, char version, std::vector<Row>* rows) {
  Decoder d(payload);
  const uint32_t n = d.U32();
  if (!d.ok() || n > payload.size()) return false;
  rows->assign(n, Row{});
  for (Row& r : *rows) RowFields(r, d, version);
  return d.ok() && d.done();
}

bool ReadFull(int fd, uint64_t offset, size_t n, std::string* out) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    const ssize_t k = pread(fd, out->data() + got, n - got, static_cast<off_t>(offset + got));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    got += static_cast<size_t>(k);
  }
  return true;
}

Status Errno(const std::string& what, const std::string& path) {
  return Status::IoError("ledger: spool " + path + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<LedgerSpool>> LedgerSpool::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("cannot open", path);
  std::unique_ptr<LedgerSpool> spool(new LedgerSpool(path, fd));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0)
    return errno == EWOULDBLOCK
               ? Status::IoError("ledger: spool " + path +
                                 " is in use by another tollgate process; give each replica its "
                                 "own ledger.spool_path")
               : Errno("cannot lock", path);
  // The file's name is durable before any batch in it is reported durable.
  const std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)fsync(dfd);
    ::close(dfd);
  }
  TG_RETURN_IF_ERROR(spool->Scan());
  return spool;
}

LedgerSpool::~LedgerSpool() { ::close(fd_); }  // releases the lock

bool LedgerSpool::ReadBatch(uint64_t offset, std::vector<Row>* rows, uint64_t* next) const {
  std::string header, payload;
  if (!ReadFull(fd_, offset, kHeaderBytes, &header) || header.compare(0, 3, kMagic, 3) != 0 ||
      header[3] < kOldestVersion || header[3] > kMagic[3])
    return false;
  Decoder h(std::string_view(header).substr(4));
  const uint32_t length = h.U32();
  const uint32_t crc = h.U32();
  if (length > kMaxPayload || !ReadFull(fd_, offset + kHeaderBytes, length, &payload) ||
      Crc32(payload) != crc || !DecodePayload(payload, header[3], rows))
    return false;
  *next = offset + kHeaderBytes + length;
  return true;
}

Status LedgerSpool::Scan() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return Errno("cannot stat", path_);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  std::vector<Row> rows;
  uint64_t next = 0;
  while (end_ < size && ReadBatch(end_, &rows, &next)) {
    rows_ += rows.size();
    end_ = next;
  }
  if (end_ < size) {
    // The tail is not a whole batch: a write cut short by a crash (its Flush
    // never returned OK) or a damaged file. Keep the bytes aside, cut them off.
    std::string tail;
    const bool read = ReadFull(fd_, end_, size - end_, &tail);
    const std::string aside = path_ + ".corrupt";
    const int afd = ::open(aside.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const bool kept = read && afd >= 0 &&
                      write(afd, tail.data(), tail.size()) == static_cast<ssize_t>(tail.size()) &&
                      fsync(afd) == 0;
    if (afd >= 0) ::close(afd);
    log::Warn("ledger: spool " + path_ + ": the last " + std::to_string(size - end_) +
              " bytes (from offset " + std::to_string(end_) +
              ") are not a whole batch (a write cut short, or a damaged file); " +
              (kept ? "appended to " + aside : "could not copy them to " + aside) + "; the " +
              std::to_string(rows_) + " rows before them will be replayed");
    if (ftruncate(fd_, static_cast<off_t>(end_)) != 0 || fdatasync(fd_) != 0)
      return Errno("cannot cut off its damaged tail", path_);
  }
  return Status::Ok();
}

Status LedgerSpool::Append(const std::vector<Row>& rows) {
  const std::string record = EncodeBatch(rows);
  size_t put = 0;
  while (put < record.size()) {
    const ssize_t k =
        pwrite(fd_, record.data() + put, record.size() - put, static_cast<off_t>(end_ + put));
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    put += static_cast<size_t>(k);
  }
  if (put < record.size() || fdatasync(fd_) != 0) {
    Status st = Errno("cannot write a batch", path_);
    (void)ftruncate(fd_, static_cast<off_t>(end_));  // best effort; Open cuts a torn tail anyway
    return st;
  }
  end_ += record.size();
  rows_ += rows.size();
  return Status::Ok();
}

Status LedgerSpool::Replay(const std::function<Status(const std::vector<Row>&)>& write) {
  std::vector<Row> rows;
  while (replayed_ < end_) {
    uint64_t next = 0;
    if (!ReadBatch(replayed_, &rows, &next))
      return Status::IoError("ledger: spool " + path_ + ": the batch at offset " +
                             std::to_string(replayed_) + " cannot be read back");
    TG_RETURN_IF_ERROR(write(rows));
    replayed_ = next;
    rows_ -= rows.size();
  }
  if (end_ > 0) {
    if (ftruncate(fd_, 0) != 0 || fdatasync(fd_) != 0) return Errno("cannot truncate", path_);
    end_ = replayed_ = 0;
  }
  return Status::Ok();
}

}  // namespace tollgate::ledger
