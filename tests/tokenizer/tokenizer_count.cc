// Test driver for compare.mjs: tokenizes files with the C++ tokenizer and
// prints their token ids, one line per file and encoding:
//   <encoding> <file> <count> <id> <id> ...
// Usage: tokenizer_count [--encoding NAME]... (--list FILE | FILE...)
// --list reads the file names from FILE, one per line. Default: both encodings.

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using tollgate::tokenizer::Encoding;
  using tollgate::tokenizer::Tokenizer;
  std::vector<Encoding> encodings;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--encoding" && i + 1 < argc) {
      auto e = tollgate::tokenizer::ParseEncoding(argv[++i]);
      if (!e) {
        std::fprintf(stderr, "unknown encoding %s\n", argv[i]);
        return 2;
      }
      encodings.push_back(*e);
    } else if (arg == "--list" && i + 1 < argc) {
      std::ifstream list(argv[++i]);
      for (std::string line; std::getline(list, line);) {
        if (!line.empty()) files.push_back(line);
      }
    } else {
      files.push_back(arg);
    }
  }
  if (encodings.empty()) encodings = {Encoding::kO200kBase, Encoding::kCl100kBase};

  std::string out;
  for (Encoding e : encodings) {
    auto tok = Tokenizer::Load(e);
    if (!tok.ok()) {
      std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
      return 1;
    }
    for (const std::string& f : files) {
      std::string text;
      if (!ReadFile(f, &text)) {
        std::fprintf(stderr, "cannot read %s\n", f.c_str());
        return 1;
      }
      std::vector<uint32_t> ids = (*tok)->Encode(text);
      size_t count = (*tok)->Count(text);
      if (count != ids.size()) {
        std::fprintf(stderr, "%s: Count() %zu != Encode().size() %zu\n", f.c_str(), count,
                     ids.size());
        return 1;
      }
      out.append(tollgate::tokenizer::EncodingName(e));
      out.append(" ").append(f).append(" ").append(std::to_string(ids.size()));
      for (uint32_t id : ids) out.append(" ").append(std::to_string(id));
      out.append("\n");
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
