// The SQLite backend's Storage: the writer, readers and state stores of one
// file. Holds only the path; each object it opens has its own connection.
#include "ledger/sqlite_backend.h"

namespace tollgate::ledger {
namespace {

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(std::string url, std::string path, const StorageOptions& options)
      : url_(std::move(url)), path_(std::move(path)), options_(options) {}

  const std::string& url() const override { return url_; }

  Result<std::unique_ptr<LedgerWriter>> OpenWriter() override {
    return OpenSqliteLedger(
        {path_, options_.batch_size, options_.flush_interval_ms, options_.max_queue_rows});
  }
  std::unique_ptr<LedgerReader> OpenReader() const override { return OpenSqliteReader(path_); }
  Result<std::unique_ptr<StateStore>> OpenStateStore() override {
    return OpenSqliteStateStore(path_);
  }

 private:
  const std::string url_, path_;
  const StorageOptions options_;
};

}  // namespace

std::unique_ptr<Storage> NewSqliteStorage(std::string url, std::string path,
                                          const StorageOptions& options) {
  return std::make_unique<SqliteStorage>(std::move(url), std::move(path), options);
}

}  // namespace tollgate::ledger
