#include "core/base64.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace fastgpu {
namespace {

TEST(Base64, EncodesAsRfc4648Says) {
  // RFC 4648, section 10.
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, EveryByteComesBackAsItWas) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  for (std::size_t length = 0; length <= bytes.size(); ++length) {
    const std::string part = bytes.substr(bytes.size() - length);
    const Result<std::string> back = base64_decode(base64_encode(part));
    ASSERT_TRUE(back.ok()) << back.status().to_string();
    EXPECT_EQ(*back, part);
  }
  EXPECT_EQ(base64_encode("\xff\xfe\x80"), "//6A");
  std::string out = "prefix:";
  base64_append(out, "foobar");
  EXPECT_EQ(out, "prefix:Zm9vYmFy");
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_THAT(base64_decode("Zm9").status().message(), ::testing::HasSubstr("multiple of 4"));
  EXPECT_THAT(base64_decode("Zm9v!A==").status().message(),
              ::testing::HasSubstr("character 5 is not in its alphabet"));
  EXPECT_FALSE(base64_decode("Zg==Zg==").ok());  // padding before the end
  EXPECT_FALSE(base64_decode("Z===").ok());
}

}  // namespace
}  // namespace fastgpu
