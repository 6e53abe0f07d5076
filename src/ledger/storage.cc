#include "ledger/storage.h"

#include "ledger/postgres_backend.h"
#include "ledger/sqlite_backend.h"

namespace tollgate::ledger {

Result<std::unique_ptr<Storage>> OpenLedger(std::string_view url, const StorageOptions& options) {
  constexpr std::string_view kSqlite = "sqlite://";
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // A plain path: what ledger.path and --db have always meant.
    if (url.empty())
      return Status::InvalidArgument("ledger: the ledger URL is empty (give sqlite://PATH)");
    return NewSqliteStorage(std::string(url), std::string(url), options);
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (scheme == "postgres" || scheme == "postgresql")
    return NewPostgresStorage(std::string(url), options);  // libpq takes the URI as it is
  if (url.substr(0, kSqlite.size()) != kSqlite)
    return Status::InvalidArgument(
        "ledger: unknown ledger URL scheme '" + std::string(scheme) + "' in '" + std::string(url) +
        "' (supported: sqlite:///absolute/path.db, sqlite://relative/path.db,"
        " postgres://user@host:port/db)");
  std::string path(url.substr(kSqlite.size()));
  if (path.empty())
    return Status::InvalidArgument("ledger: '" + std::string(url) +
                                   "' names no file (give sqlite://PATH)");
  return NewSqliteStorage(std::string(url), std::move(path), options);
}

}  // namespace tollgate::ledger
