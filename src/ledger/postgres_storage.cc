// The PostgreSQL backend's Storage: the writer, readers and state stores of one
// database. Holds only the URL; each object it opens has its own connection(s).
#include "ledger/postgres_backend.h"

namespace tollgate::ledger {
namespace {

class PostgresStorage final : public Storage {
 public:
  PostgresStorage(std::string url, const StorageOptions& options)
      : url_(std::move(url)), options_(options) {}

  const std::string& url() const override { return url_; }
  Result<std::unique_ptr<LedgerWriter>> OpenWriter() override {
    return OpenPostgresLedger(url_, options_);
  }
  std::unique_ptr<LedgerReader> OpenReader() const override { return OpenPostgresReader(url_); }
  Result<std::unique_ptr<StateStore>> OpenStateStore() override {
    return OpenPostgresStateStore(url_);
  }

 private:
  const std::string url_;
  const StorageOptions options_;
};

}  // namespace

std::unique_ptr<Storage> NewPostgresStorage(std::string url, const StorageOptions& options) {
  return std::make_unique<PostgresStorage>(std::move(url), options);
}

}  // namespace tollgate::ledger
