// Relay stage: the upstream answer to the client, whole or as SSE events
// through the request's stream adapter; errors in the client's dialect.
#include "gateway/call.h"

namespace tollgate::gateway {

using asio::awaitable;
using asio::use_awaitable;

namespace {
constexpr size_t kMaxUpstreamBody = 64 << 20;
}  // namespace

awaitable<bool> Gateway::RelayUpstreamError(Call& call, http::UpstreamCall& up, http::ClientStream& out) {
  Result<std::string> body = co_await up.ReadAll(1 << 20);
  up.Finish();
  call.row.status = up.status();
  call.row.error_class = "upstream_4xx";
  PriceAndRecord(call);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(up.status()), 11};
  auto ct = up.head().find(bhttp::field::content_type);
  res.set(bhttp::field::content_type, ct == up.head().end() ? "application/json" : std::string(ct->value()));
  for (const auto& f : up.head())
    if (ForwardableUpstreamHeader(f.name_string())) res.set(f.name_string(), f.value());
  SetIdHeaders(call, res);
  res.body() = body.ok() ? std::move(*body) : std::string();
  const Status written = co_await out.Write(res);
  co_return written.ok();
}

awaitable<bool> Gateway::SendFailure(Call& call, const Failure& failure, http::ClientStream& out) {
  if (failure.http_status == 0) {
    const ApiError err = failure.error ? *failure.error : UpstreamUnreachable("?", "no deployment was tried");
    co_return co_await SendError(call, err, out);
  }
  call.row.status = failure.http_status;
  call.row.error_class = failure.error->code;
  PriceAndRecord(call);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(failure.http_status), 11};
  res.set(bhttp::field::content_type, failure.content_type);
  SetIdHeaders(call, res);
  res.body() = failure.body.empty() ? ErrorBodyFor(call.api, *failure.error) : failure.body;
  const Status written = co_await out.Write(res);
  co_return written.ok();
}

awaitable<bool> Gateway::SendError(Call& call, const ApiError& e, http::ClientStream& out) {
  call.row.status = e.status;
  call.row.error_class = e.code;
  PriceAndRecord(call);
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(e.status), 11};
  if (e.retry_after_s >= 0) res.set(bhttp::field::retry_after, std::to_string(e.retry_after_s));
  for (const auto& [name, value] : e.headers) res.set(name, value);
  res.set(bhttp::field::content_type, "application/json");
  SetIdHeaders(call, res);
  res.body() = ErrorBodyFor(call.api, e);
  Status st = co_await out.Write(res);
  co_return st.ok();
}

void Gateway::ApplyMeter(Call& call, const providers::Meter& m) {
  if (!m.model.empty()) call.response_model = m.model;
  call.text_chars = m.text_chars;
  call.have_usage = m.have_usage;
  if (m.have_usage) {
    call.row.usage = m.usage;
  } else {
    // No usage from the provider: estimate, and say so in the ledger.
    call.row.usage = pricing::Usage{};
    call.row.usage.input = providers::EstimatePromptTokens(call.body);
    call.row.usage.output = providers::EstimateTokensFromChars(call.text_chars);
    call.row.estimated = true;
  }
}

awaitable<bool> Gateway::RelayWhole(Call& call, http::UpstreamCall& up, providers::Api provider_api, bool translate,
                                    http::ClientStream& out) {
  auto body = co_await up.ReadAll(kMaxUpstreamBody);
  if (!body.ok()) {
    stats_.upstream_errors.fetch_add(1, std::memory_order_relaxed);
    // Built as a named local: GCC 12 miscompiles class temporaries of a conditional
    // inside a co_await full-expression (a bad free in ~ApiError, issue 11).
    ApiError err;
    if (Cutting())
      err = ShuttingDown();
    else if (body.status().code() == StatusCode::kTimeout)
      err = UpstreamTimeout(call.row.provider, body.status().message());
    else
      err = UpstreamUnreachable(call.row.provider, body.status().message());
    co_return co_await SendError(call, err, out);
  }
  up.Finish();
  // A typical answer's DOM fits in the frame (rapidjson's default first chunk is a 64 KiB malloc).
  char doc_arena[2048];
  rapidjson::MemoryPoolAllocator<> doc_alloc{doc_arena, sizeof doc_arena};
  rapidjson::Document doc{&doc_alloc};
  const JsonParse doc_json = ParseJson(doc, *body);
  const bool parsed = doc_json.ok && doc.IsObject();
  providers::Meter meter;
  if (parsed) meter = providers::MeterResponse(provider_api, doc);
  ApplyMeter(call, meter);
  std::string client_body;
  if (translate && parsed) {
    auto t = provider_api == providers::Api::kAnthropicMessages
                 ? providers::AnthropicResponseToChat(doc, call.row.requested_model)
                 : providers::ChatResponseToAnthropic(doc, call.row.requested_model);
    if (!t.ok()) {
      call.row.status = 502;
      call.row.error_class = "translation_failed";
      PriceAndRecord(call);
      ApiError e{502, "upstream_error", "translation_failed",
                 "Could not translate the answer of provider '" + call.row.provider + "': " + t.status().message(), ""};
      bhttp::response<bhttp::string_body> res{bhttp::status::bad_gateway, 11};
      res.set(bhttp::field::content_type, "application/json");
      SetIdHeaders(call, res);
      res.body() = ErrorBodyFor(call.api, e);
      {
        const Status written = co_await out.Write(res);
        co_return written.ok();
      }
    }
    client_body = std::move(*t);
  } else {
    client_body = std::move(*body);
  }
  call.row.status = up.status();
  PriceAndRecord(call);
  http::ResponseHead res(static_cast<unsigned>(up.status()));  // built as text: no header map
  auto ct = up.head().find(bhttp::field::content_type);
  res.set(bhttp::field::content_type,
          translate || ct == up.head().end() ? std::string_view("application/json") : ct->value());
  for (const auto& f : up.head())
    if (ForwardableUpstreamHeader(f.name_string())) res.set(f.name_string(), f.value());
  SetIdHeaders(call, res);
  res.set("x-tollgate-cost-usd", call.cost_header);
  MaybeCache(call, client_body);
  Status st = co_await out.Write(res, client_body);
  co_return st.ok();
}

awaitable<bool> Gateway::RelayStream(Call& call, http::UpstreamCall& up, providers::StreamAdapter& adapter,
                                     http::ClientStream& out) {
  call.row.streamed = true;
  bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(up.status()), 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  for (const auto& f : up.head())
    if (ForwardableUpstreamHeader(f.name_string())) head.set(f.name_string(), f.value());
  SetIdHeaders(call, head);
  Status st = co_await out.StartChunked(head);
  bool client_gone = !st.ok();
  bool broken = false;
  std::string broken_reason;
  std::string pending, forward;
  char buf[16384];
  while (!client_gone) {
    Result<size_t> n = co_await up.ReadSome(buf, sizeof buf);
    if (!n.ok()) {
      broken = true;
      broken_reason = n.status().message();
      break;
    }
    if (*n == 0) break;
    pending.append(buf, *n);
    size_t pos = 0, sep = 0, end;
    while ((end = providers::FindSseEventEnd(pending, pos, &sep)) != std::string::npos) {
      adapter.OnEvent(std::string_view(pending.data() + pos, end - pos), &forward);
      pos = end + sep;
    }
    pending.erase(0, pos);
    if (!forward.empty()) {
      if (!call.row.ttft_ms) call.row.ttft_ms = static_cast<double>(MonotonicUs() - call.start_us) / 1000.0;
      st = co_await out.WriteChunk(forward);
      forward.clear();
      if (!st.ok()) client_gone = true;
    }
  }
  if (!client_gone && !broken) up.Finish();
  ApplyMeter(call, adapter.meter());
  if ((client_gone || broken || !adapter.meter().complete || adapter.meter().usage_provisional) &&
      call.have_usage) {
    // A cut stream's usage is provisional (Anthropic reports output_tokens: 1 in
    // message_start): bill at least what the text received implies.
    const int64_t seen = providers::EstimateTokensFromChars(call.text_chars);
    if (seen > call.row.usage.OutputTotal()) {
      call.row.usage.output = seen - call.row.usage.reasoning;
      call.row.estimated = true;
    }
  }
  call.row.status = up.status();
  std::string tail;
  if (client_gone) {
    call.row.status = 499;
    call.row.error_class = "client_disconnect";
    stats_.client_disconnects.fetch_add(1, std::memory_order_relaxed);
  } else if (broken && Cutting()) {
    // Shutdown cut the stream (Server::Stop): billed for what was delivered.
    call.row.error_class = "shutdown";
    adapter.Fail(ShuttingDown().message, &tail);
  } else if (broken || !adapter.meter().complete) {
    call.row.error_class = "stream_broken";
    stats_.streams_broken.fetch_add(1, std::memory_order_relaxed);
    if (broken_reason.empty()) broken_reason = "upstream ended the stream before its final event";
    adapter.Fail("Provider '" + call.row.provider + "' stream broke: " + broken_reason, &tail);
  } else {
    adapter.Finish(&tail);
  }
  PriceAndRecord(call);
  if (client_gone) co_return false;
  MaybeCache(call, tail);
  tail += ": tollgate cost_usd=" + call.cost_header + " request_id=" + call.row.id + "\n\n";
  st = co_await out.WriteChunk(tail);
  if (st.ok()) st = co_await out.EndChunked();
  co_return st.ok() && call.row.error_class.empty();
}

awaitable<bool> Gateway::SendAnswer(Call& call, const std::string& body, bool sse, std::string_view extra_name,
                                    std::string_view extra_value, http::ClientStream& out) {
  MaybeCache(call, body);
  if (!sse) {
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "application/json");
    SetIdHeaders(call, res);
    res.set("x-tollgate-cost-usd", call.cost_header);
    if (!extra_name.empty()) res.set(extra_name, extra_value);
    res.body() = body;
    {
      const Status written = co_await out.Write(res);
      co_return written.ok();
    }
  }
  bhttp::response<bhttp::empty_body> head{bhttp::status::ok, 11};
  head.set(bhttp::field::content_type, "text/event-stream");
  head.set(bhttp::field::cache_control, "no-cache");
  SetIdHeaders(call, head);
  if (!extra_name.empty()) head.set(extra_name, extra_value);
  Status st = co_await out.StartChunked(head);
  if (st.ok()) st = co_await out.WriteChunk(body);
  const std::string trailer = ": tollgate cost_usd=" + call.cost_header + " request_id=" + call.row.id + "\n\n";
  if (st.ok()) st = co_await out.WriteChunk(trailer);  // a named local across the co_await
  if (st.ok()) st = co_await out.EndChunked();
  co_return st.ok();
}

}  // namespace tollgate::gateway
