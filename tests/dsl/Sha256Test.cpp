// SHA-256 against the NIST FIPS 180-4 example vectors.
#include <gtest/gtest.h>

#include "linrec/dsl/Sha256.h"

TEST(Sha256, NistVectors) {
  EXPECT_EQ(linrec::sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(linrec::sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(linrec::sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(linrec::sha256Hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, StreamingEqualsOneShot) {
  std::string s(1000, 'x');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7);
  linrec::Sha256 h;
  for (size_t i = 0; i < s.size(); i += 37) h.update(s.substr(i, 37));
  EXPECT_EQ(h.hexDigest(), linrec::sha256Hex(s));
}
