// The one declaration of every scalar setting: section, name, C++ type, default
// and doc. Parsing (config.cc), validation of unknown keys, and the generated
// reference (`tollgate config docs`, docs/config.md) all expand these lists.
#pragma once

#include <cstdint>
#include <string>

// X(name, type, default, doc)
#define TOLLGATE_SERVER_SETTINGS(X)                                                              \
  X(listen, std::string, "127.0.0.1:4000", "Address and port to listen on; port 0 picks a free port.") \
  X(max_body_bytes, int64_t, 10485760, "Largest request body accepted; larger bodies get HTTP 413.") \
  X(threads, int64_t, 2, "Worker threads; each runs its own event loop and upstream connection pool.") \
  X(client_idle_timeout_ms, int64_t, 120000, "Close a client keep-alive connection idle this long.") \
  X(max_connections, int64_t, 4096, "Open client connections served at once; past it new connections get HTTP 503 and are closed. Keep it below the process's open-file limit (ulimit -n) minus upstream connections.") \
  X(access_log, std::string, "", "Where one JSON line per request goes (method, path without the query, status, model, provider, tokens, cost, latency, key id, request and session ids; never a secret or a prompt): empty is off, - is standard error, anything else a file appended to. Written by a background thread.") \
  X(drain_timeout_ms, int64_t, 5000, "On SIGTERM/SIGINT, how long in-flight requests may finish; then open streams are cut, each billed for what it delivered (ledger error_class shutdown).")

#define TOLLGATE_LEDGER_SETTINGS(X)                                                           \
  X(url, std::string, "", "Where the ledger and the governance state live: sqlite:///absolute/path.db or sqlite://relative/path.db (a SQLite file in WAL mode, created if missing), or postgres://user@host:port/db (a PostgreSQL database shared by replicas; tables created by versioned migrations). Give url or path, not both.") \
  X(path, std::string, "./tollgate.db", "SQLite ledger file (WAL mode), created if missing; the same as url: sqlite://PATH. Used when url is not set.") \
  X(batch_size, int64_t, 2048, "Rows written per transaction by the background writer.")      \
  X(flush_interval_ms, int64_t, 100, "Longest a finished request waits before its row is written.") \
  X(max_queue_rows, int64_t, 1000000, "Rows buffered in memory before the request path blocks.") \
  X(spool_path, std::string, "./tollgate-ledger.spool", "PostgreSQL only: the local file where the writer keeps rows while the database cannot be reached (each batch fsync'd), replayed in order and then emptied once it is back, and at the next start if the server stopped first. One file per process (it is locked); keep it on local disk.")

#define TOLLGATE_PRICING_SETTINGS(X)                                                           \
  X(catalog_file, std::string, "", "Price catalog to use instead of the embedded one (docs/pricing.md schema).") \
  X(litellm_file, std::string, "", "Optional LiteLLM model_prices_and_context_window.json merged over the catalog.")

#define TOLLGATE_AUTH_SETTINGS(X)                                                                 \
  X(enabled, bool, false, "Require a virtual key (tollgate keys create) on every /v1 request.")   \
  X(master_key, std::string, "", "Bearer key for /admin/* and the dashboard; empty disables the admin API. Use ${ENV_VAR}.")

#define TOLLGATE_GOVERNANCE_SETTINGS(X)                                                           \
  X(timezone, std::string, "UTC", "IANA timezone of calendar budget windows (daily, weekly from Monday, monthly).") \
  X(default_max_tokens, int64_t, 4096, "Output tokens reserved for a request that sets no max_tokens.") \
  X(clamp_max_tokens, bool, false, "When a budget cannot cover max_tokens, lower max_tokens to what is left instead of refusing.") \
  X(alert_webhook, std::string, "", "URL that receives a JSON POST when a soft budget limit is crossed.") \
  X(reload_interval_ms, int64_t, 250, "How often the server checks for keys and budgets changed elsewhere (the CLI, the admin API of another replica): one read of the state version; a change reloads them.")

// Where budget and rate-limit counters live (docs/deploy.md): in this process,
// or in a Redis server shared by every replica.
#define TOLLGATE_COUNTERS_SETTINGS(X)                                                             \
  X(url, std::string, "", "redis://[:password@]host:port[/db] of a Redis server that holds the budget reservations, spend and rate-limit windows of every replica; empty keeps them in this process (one replica).") \
  X(policy, std::string, "fail_closed", "When Redis cannot be reached: fail_closed refuses governed requests with HTTP 503 counters_unavailable; fail_open admits them against this replica's share (1/replicas) of every limit and resyncs spend when Redis returns.") \
  X(replicas, int64_t, 1, "Replicas sharing the counters; under fail_open each admits against 1/replicas of every limit while Redis is down.") \
  X(timeout_ms, int64_t, 250, "Deadline for one Redis round trip (connect, or a pipelined batch); past it Redis counts as unreachable.") \
  X(reservation_ttl_ms, int64_t, 900000, "How long an unsettled budget reservation holds in Redis; a replica killed mid-request frees its reservations after this.") \
  X(key_prefix, std::string, "tollgate:", "Prefix of every Redis key, so that several deployments can share one Redis.")

#define TOLLGATE_PROVIDER_SETTINGS(X)                                                             \
  X(name, std::string, "", "Unique provider name, referenced by model deployments.")              \
  X(type, std::string, "", "openai, openai-compatible, azure, anthropic, gemini, sim or replay.")                                   \
  X(api_key, std::string, "", "Bearer key sent upstream; use ${ENV_VAR} to read it from the environment.") \
  X(base_url, std::string, "", "http(s)://host[:port]/path of the API root. Defaults: openai https://api.openai.com/v1, anthropic https://api.anthropic.com/v1, gemini https://generativelanguage.googleapis.com/v1beta; azure: https://RESOURCE.openai.azure.com/openai.") \
  X(api_version, std::string, "", "azure: the api-version query parameter (default 2024-10-21); anthropic: the anthropic-version header sent when the client sends none (default 2023-06-01).") \
  X(ca_file, std::string, "", "Extra PEM CA bundle trusted for this provider's TLS, besides the system store.") \
  X(connect_timeout_ms, int64_t, 5000, "TCP+TLS connect deadline per attempt.")                   \
  X(first_byte_timeout_ms, int64_t, 120000, "Deadline for the upstream's response headers.")      \
  X(idle_timeout_ms, int64_t, 60000, "Longest silence allowed between upstream body reads.")      \
  X(max_retries, int64_t, 2, "Retries on connect failure, 429 or 5xx before falling back.")       \
  X(retry_backoff_ms, int64_t, 100, "First retry delay; doubles with each retry.")                \
  X(max_idle_connections, int64_t, 128, "Idle keep-alive connections kept per worker thread.")    \
  X(latency_ms, int64_t, 30, "sim only: delay before the first token.")                          \
  X(tokens_per_second, int64_t, 200, "sim only: streaming speed.")                               \
  X(response_tokens, int64_t, 48, "sim only: tokens in each answer (capped by max_tokens).") \
  X(dataset, std::string, "", "replay only: comma-separated routerbench-style CSV files whose recorded answers it serves (model = a model column).")

// The savings engine's caches (docs/cache.md). Doubles are thresholds in [0, 1].
#define TOLLGATE_CACHE_SETTINGS(X)                                                                \
  X(enabled, bool, false, "Serve repeated requests from the exact cache (chat, completions, messages).") \
  X(path, std::string, "./tollgate-cache.db", "SQLite file the cache persists in; empty keeps it in memory only.") \
  X(ttl_s, int64_t, 3600, "Seconds an entry is served after it was stored.")                     \
  X(max_entries, int64_t, 10000, "Entries kept; the least recently used are evicted beyond it.")  \
  X(max_bytes, int64_t, 268435456, "Bytes of response bodies kept; LRU eviction beyond it.")     \
  X(scope, std::string, "key", "Tenant isolation: key (each virtual key / bearer key its own cache), project, or global.") \
  X(default_mode, std::string, "on", "on: cache unless the client sends x-tollgate-cache: off; off: only when it sends x-tollgate-cache: on.") \
  X(temperature_policy, std::string, "bypass", "Requests with temperature > 0: bypass (never cached) or cache (served like any other).") \
  X(semantic, bool, false, "Also answer near-duplicate single-turn prompts (semantic cache).") \
  X(semantic_threshold, double, 0.92, "Cosine similarity an embedding match must reach.")      \
  X(minhash_threshold, double, 0.7, "Estimated Jaccard similarity a MinHash match must reach (used with no embeddings_url).") \
  X(semantic_multi_turn, bool, false, "Let multi-turn conversations use the semantic cache too (off: single-turn only).") \
  X(embeddings_url, std::string, "", "OpenAI-compatible API root (e.g. http://127.0.0.1:8080/v1) for semantic-cache embeddings; empty: built-in MinHash matcher.") \
  X(embeddings_model, std::string, "", "Model sent to embeddings_url.")                          \
  X(embeddings_api_key, std::string, "", "Bearer key for embeddings_url; use ${ENV_VAR}.")       \
  X(embeddings_timeout_ms, int64_t, 2000, "Deadline for one embeddings call; on timeout the request skips the semantic cache.")
