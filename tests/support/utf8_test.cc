// first_invalid_utf8 against the RFC 3629 table: well-formed sequences of every length pass;
// overlong forms, surrogates, code points above U+10FFFF, stray continuation bytes and
// truncated sequences are found at the offset where their sequence starts.
#include "support/utf8.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>

using xbar::first_invalid_utf8;

TEST_CASE("well-formed UTF-8 of every sequence length is valid") {
  CHECK(!first_invalid_utf8(""));
  CHECK(!first_invalid_utf8("plain ascii r-row = 2.5"));
  CHECK(!first_invalid_utf8("\xc2\xb5s 2.5 \xce\xa9"));          // U+00B5, U+03A9: 2 bytes
  CHECK(!first_invalid_utf8("\xe2\x82\xac \xed\x9f\xbf"));        // U+20AC, U+D7FF: 3 bytes
  CHECK(!first_invalid_utf8("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));  // U+10000, U+10FFFF: 4 bytes
}

TEST_CASE("ill-formed bytes are found where their sequence starts") {
  CHECK(first_invalid_utf8("ab\xb7") == std::optional<size_t>(2));          // stray continuation
  CHECK(first_invalid_utf8("a\xc0\xaf") == std::optional<size_t>(1));       // overlong '/'
  CHECK(first_invalid_utf8("\xe0\x80\xaf") == std::optional<size_t>(0));    // overlong, 3 bytes
  CHECK(first_invalid_utf8("x\xed\xa0\x80") == std::optional<size_t>(1));   // surrogate U+D800
  CHECK(first_invalid_utf8("\xf4\x90\x80\x80") == std::optional<size_t>(0));  // above U+10FFFF
  CHECK(first_invalid_utf8("\xf5\x80\x80\x80") == std::optional<size_t>(0));  // lead byte F5
  CHECK(first_invalid_utf8("ok\xe2\x82") == std::optional<size_t>(2));      // truncated
  CHECK(first_invalid_utf8("\xc2\x41") == std::optional<size_t>(0));        // bad continuation
  CHECK(xbar::describe_invalid_utf8("ab\xb7", 2).rfind("not valid UTF-8 (byte 0xb7 at offset 2)", 0) == 0);
}
