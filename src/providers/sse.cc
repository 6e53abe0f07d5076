#include "providers/sse.h"

#include "common/json.h"

namespace tollgate::providers {

std::string_view SseData(std::string_view ev, std::string* scratch) {
  std::string_view first;
  int lines = 0;
  size_t pos = 0;
  while (pos <= ev.size()) {
    size_t nl = ev.find('\n', pos);
    std::string_view line = ev.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) == "data:") {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (lines == 0) {
        first = line;
      } else {
        if (lines == 1) scratch->assign(first);
        scratch->append("\n").append(line);
      }
      ++lines;
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return lines > 1 ? std::string_view(*scratch) : first;
}

bool ParseJsonObject(std::string_view data, rapidjson::Document* doc) {
  if (data.empty() || data.front() != '{') return false;
  return ParseJson(*doc, data).ok && doc->IsObject();
}

size_t FindSseEventEnd(const std::string& buf, size_t from, size_t* sep) {
  for (size_t i = from; i + 1 < buf.size(); ++i) {
    if (buf[i] != '\n') continue;
    if (buf[i + 1] == '\n') {
      *sep = 2;
      return i;
    }
    if (buf[i + 1] == '\r' && i + 2 < buf.size() && buf[i + 2] == '\n') {
      *sep = 3;
      return i;
    }
  }
  return std::string::npos;
}

}  // namespace tollgate::providers
