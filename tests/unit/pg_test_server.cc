#include "pg_test_server.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/util.h"
#include "free_port.h"

namespace tollgate::testing {
namespace {

namespace fs = std::filesystem;

// The newest installed server's bin folder (/usr/lib/postgresql/<major>/bin).
std::string FindBinDir() {
  std::error_code ec;
  int best = -1;
  std::string dir;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    const int major = std::atoi(name.c_str());
    if (major > best && fs::exists(e.path() / "bin" / "pg_ctl", ec)) {
      best = major;
      dir = (e.path() / "bin").string();
    }
  }
  return dir;
}

class Server {
 public:
  ~Server() {
    // Only the process that started it stops it (a forked test child exits with _exit).
    if (!started_ || getpid() != owner_) return;
    (void)Sh(bin_ + "/pg_ctl -D " + (dir_ / "data").string() +
             " -m immediate -w stop >/dev/null 2>&1");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Status Start() {
    bin_ = FindBinDir();
    if (bin_.empty())
      return Status::NotFound(
          "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): run "
          "scripts/install-deps.sh");
    dir_ = fs::temp_directory_path() / ("tollgate-pg-" + NewRequestId());
    fs::create_directories(dir_);
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (!pw) return Status::IoError("running as root and there is no `postgres` user");
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
        return Status::IoError("cannot chown " + dir_.string() + " to postgres");
      as_ = "runuser -u postgres -- ";
    }
    const std::string data = Data();
    if (Sh(bin_ + "/initdb -D " + data + " -U postgres -A trust -E UTF8 --locale=C --no-sync >" +
           (dir_ / "initdb.log").string() + " 2>&1") != 0)
      return Status::IoError("initdb failed: " + Read(dir_ / "initdb.log"));
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreeLoopbackPort();
      if (PgCtlStart()) {
        started_ = true;
        owner_ = getpid();
        return Status::Ok();
      }
    }
    return Status::IoError("pg_ctl start failed: " + Read(dir_ / "server.log"));
  }

  // The running server, stopped; then started again on the same port.
  Status Stop() {
    if (Sh(bin_ + "/pg_ctl -D " + Data() + " -m fast -w stop >/dev/null 2>&1") != 0)
      return Status::IoError("pg_ctl stop failed: " + Log());
    return Status::Ok();
  }
  Status Restart() {
    return PgCtlStart() ? Status::Ok() : Status::IoError("pg_ctl start failed: " + Log());
  }

  std::string Url(const std::string& db) const {
    return "postgres://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
  }
  std::string Log() const { return Read(dir_ / "server.log"); }

 private:
  std::string Data() const { return (dir_ / "data").string(); }
  bool PgCtlStart() const {
    const std::string opts = "-p " + std::to_string(port_) + " -k " + dir_.string() +
                             " -c listen_addresses=127.0.0.1 -c fsync=off"
                             " -c synchronous_commit=off -c full_page_writes=off"
                             " -c max_connections=300";
    return Sh(bin_ + "/pg_ctl -D " + Data() + " -l " + (dir_ / "server.log").string() +
              " -w -t 60 -o '" + opts + "' start >/dev/null 2>&1") == 0;
  }

  int Sh(const std::string& cmd) const { return std::system((as_ + cmd).c_str()); }
  static std::string Read(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  std::string bin_, as_;
  fs::path dir_;
  int port_ = 0;
  bool started_ = false;
  pid_t owner_ = 0;
};

Server* TheServer(Status* status) {
  static Server server;
  static Status started = server.Start();
  *status = started;
  return &server;
}

}  // namespace

Result<std::string> NewPostgresDatabase() {
  static std::mutex mu;
  static int next = 0;
  std::lock_guard<std::mutex> lock(mu);
  Status st;
  Server* s = TheServer(&st);
  if (!st.ok()) return st;
  const std::string name = "tg_" + std::to_string(getpid()) + "_" + std::to_string(next++);
  PGconn* c = PQconnectdb(s->Url("postgres").c_str());
  std::string error;
  if (PQstatus(c) != CONNECTION_OK) {
    error = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(c);
  if (!error.empty()) return Status::IoError("creating database " + name + ": " + error);
  return s->Url(name);
}

std::string QueryPostgres(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  std::string v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0
                      ? PQgetvalue(r, 0, 0)
                      : std::string("error: ") + PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  return v;
}

std::string PostgresServerLog() {
  Status st;
  return TheServer(&st)->Log();
}

Status StopPostgresServer() {
  Status st;
  Server* s = TheServer(&st);
  return st.ok() ? s->Stop() : st;
}

Status StartPostgresServer() {
  Status st;
  Server* s = TheServer(&st);
  return st.ok() ? s->Restart() : st;
}

}  // namespace tollgate::testing
