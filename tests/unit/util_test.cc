#include <gtest/gtest.h>

#include "common/util.h"

namespace tollgate {
namespace {

TEST(Util, RequestIdsAreUniqueAndShaped) {
  std::string a = NewRequestId(), b = NewRequestId();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 4u + 24u);
  EXPECT_EQ(a.rfind("req_", 0), 0u);
}

TEST(Util, FormatUsdTrimsZeros) {
  EXPECT_EQ(FormatUsd(0.00042), "0.00042");
  EXPECT_EQ(FormatUsd(1.5), "1.5");
  EXPECT_EQ(FormatUsd(0), "0");
}

TEST(Util, DatesRoundTrip) {
  auto ms = ParseDateUtcMs("2026-11-23");
  ASSERT_TRUE(ms.has_value());
  EXPECT_EQ(FormatDateUtc(*ms), "2026-11-23");
  EXPECT_FALSE(ParseDateUtcMs("2026-13-01").has_value());
  EXPECT_FALSE(ParseDateUtcMs("yesterday").has_value());
  EXPECT_FALSE(ParseDateUtcMs("2026-11-23x").has_value());
}

TEST(Util, Sha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace tollgate
