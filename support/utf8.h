// UTF-8 validity of user-provided text (issue 9).
//
//   if (auto bad = first_invalid_utf8(value)) throw InputError(where + describe_invalid_utf8(value, *bad));
//
// Every string a user gives xbar (arguments, INI keys and values, SPICE names, sweep values)
// ends up in a JSON result, and JSON text is UTF-8: nlohmann::json refuses to write anything
// else (type_error 316), which surfaced as an "internal error" after the whole computation
// (found by tests/fuzz, sweep_grid). Readers check their text where it enters instead, so the
// message can name the file and line or the argument.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xbar {

// Offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or nullopt for valid text.
inline std::optional<size_t> first_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < 0x80 || c > 0xBF) return i;
    }
    i += len;
  }
  return std::nullopt;
}

// "not valid UTF-8 (byte 0xb7 at offset 3); xbar records it in JSON results, which are UTF-8"
inline std::string describe_invalid_utf8(std::string_view s, size_t offset) {
  static const char* const kHex = "0123456789abcdef";
  const auto b = static_cast<unsigned char>(s[offset]);
  return std::string("not valid UTF-8 (byte 0x") + kHex[b >> 4] + kHex[b & 15] + " at offset " +
         std::to_string(offset) + "); xbar records it in JSON results, which must be UTF-8";
}

}  // namespace xbar
