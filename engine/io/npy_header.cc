#include "engine/io/npy_header.h"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "support/input_error.h"

namespace xbar::engine::io::internal {
namespace {

constexpr char kExpectedHeader[] =
    "expected a dict like {'descr': '<f8', 'fortran_order': False, 'shape': (4, 5)}";

[[noreturn]] void fail(const std::string& path, const std::string& message) {
  throw InputError(path + ": " + message);
}

[[noreturn]] void fail_header(const std::string& path, const std::string& detail) {
  fail(path, "malformed npy header: " + detail + " (" + kExpectedHeader + ")");
}

// ---- A parser for the small subset of Python literals an .npy header uses. ----

struct Literal {
  enum class Kind { kString, kBool, kNone, kInt, kTuple, kList, kDict };
  Kind kind = Kind::kNone;
  std::string text;  // kString: the contents; others: the source text, for messages
  bool flag = false;
  int64_t integer = 0;
  std::vector<Literal> items;                            // kTuple, kList
  std::vector<std::pair<std::string, Literal>> entries;  // kDict, string keys only
};

class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  // The whole header: one dict, then only whitespace (numpy pads with spaces and a '\n').
  Literal parse_header() {
    skip_space();
    if (peek() != '{') fail_header(path_, "the header does not start with '{'");
    Literal dict = parse_value();
    skip_space();
    if (pos_ != text_.size()) {
      fail_header(path_, "unexpected text after the dict at header offset " + std::to_string(pos_));
    }
    return dict;
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) {
      fail_header(path_,
                  std::string("expected '") + c + "' at header offset " + std::to_string(pos_));
    }
    ++pos_;
  }

  Literal parse_value() {
    skip_space();
    const std::size_t start = pos_;
    const char c = peek();
    Literal value;
    if (c == '\'' || c == '"') {
      value.kind = Literal::Kind::kString;
      value.text = parse_string();
      return value;
    }
    if (c == '{') {
      parse_dict(value);
    } else if (c == '(' || c == '[') {
      parse_sequence(value);
    } else if (c == '-' || c == '+' || std::isdigit(static_cast<unsigned char>(c))) {
      value.kind = Literal::Kind::kInt;
      value.integer = parse_int();
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      const std::string name = parse_name();
      if (name == "True" || name == "False") {
        value.kind = Literal::Kind::kBool;
        value.flag = name == "True";
      } else if (name == "None") {
        value.kind = Literal::Kind::kNone;
      } else {
        fail_header(path_, "unknown name '" + name + "'");
      }
    } else {
      fail_header(path_,
                  "unexpected " + describe_char(c) + " at header offset " + std::to_string(pos_));
    }
    value.text = text_.substr(start, pos_ - start);
    return value;
  }

  std::string describe_char(char c) const {
    if (pos_ >= text_.size()) return "end of header";
    if (std::isprint(static_cast<unsigned char>(c))) return std::string("'") + c + "'";
    return "byte " + std::to_string(static_cast<unsigned char>(c));
  }

  std::string parse_string() {
    const char quote = text_[pos_++];
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;  // keep the escaped char
      out += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail_header(path_, "unterminated string");
    ++pos_;  // closing quote
    return out;
  }

  std::string parse_name() {
    const std::size_t start = pos_;
    while (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_') ++pos_;
    return text_.substr(start, pos_ - start);
  }

  int64_t parse_int() {
    const std::size_t start = pos_;
    bool negative = false;
    if (peek() == '-' || peek() == '+') negative = text_[pos_++] == '-';
    if (!std::isdigit(static_cast<unsigned char>(peek()))) {
      fail_header(path_, "expected a digit at header offset " + std::to_string(pos_));
    }
    uint64_t magnitude = 0;
    constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const unsigned digit = static_cast<unsigned>(text_[pos_++] - '0');
      if (magnitude > (kLimit - digit) / 10) {
        fail_header(path_,
                    "integer out of range starting at header offset " + std::to_string(start));
      }
      magnitude = magnitude * 10 + digit;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long suffix in old files: "(3L, 4L)"
    const int64_t value = static_cast<int64_t>(magnitude);
    return negative ? -value : value;
  }

  // "(a, b)", "(a,)", "()" and "[a, b]". "(a)" is not a tuple in Python: it is just `a`.
  void parse_sequence(Literal& value) {
    const char open = text_[pos_++];
    const char close = open == '(' ? ')' : ']';
    std::vector<Literal> items;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (peek() == close) break;
      items.push_back(parse_value());
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++pos_;
        continue;
      }
      if (peek() != close) {
        fail_header(path_, std::string("expected ',' or '") + close + "' at header offset " +
                               std::to_string(pos_));
      }
    }
    ++pos_;
    if (open == '(' && items.size() == 1 && !trailing_comma) {
      value = items.front();  // a parenthesized value
      return;
    }
    value.kind = open == '(' ? Literal::Kind::kTuple : Literal::Kind::kList;
    value.items = std::move(items);
  }

  void parse_dict(Literal& value) {
    value.kind = Literal::Kind::kDict;
    ++pos_;  // '{'
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      if (peek() != '\'' && peek() != '"') {
        fail_header(path_, "expected a quoted key at header offset " + std::to_string(pos_));
      }
      std::string key = parse_string();
      for (const auto& entry : value.entries) {
        if (entry.first == key) fail_header(path_, "duplicate key '" + key + "'");
      }
      expect(':');
      value.entries.emplace_back(std::move(key), parse_value());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') {
        fail_header(path_, "expected ',' or '}' at header offset " + std::to_string(pos_));
      }
    }
    ++pos_;  // '}'
  }

  const std::string& text_;
  const std::string& path_;
  std::size_t pos_ = 0;
};

NpyHeader interpret_header(const Literal& dict, const std::string& path) {
  const Literal* descr = nullptr;
  const Literal* fortran_order = nullptr;
  const Literal* shape = nullptr;
  for (const auto& [key, value] : dict.entries) {
    if (key == "descr") {
      descr = &value;
    } else if (key == "fortran_order") {
      fortran_order = &value;
    } else if (key == "shape") {
      shape = &value;
    } else {
      fail_header(path, "unexpected key '" + key + "'");
    }
  }
  for (const auto& [name, field] : {std::pair<const char*, const Literal*>{"descr", descr},
                                    {"fortran_order", fortran_order},
                                    {"shape", shape}}) {
    if (field == nullptr) fail_header(path, std::string("missing key '") + name + "'");
  }

  NpyHeader header;
  if (descr->kind == Literal::Kind::kList) {
    fail(path, "structured dtype " + descr->text + " is not supported (" + kExpectedDtypes + ")");
  }
  if (descr->kind != Literal::Kind::kString) {
    fail_header(path, "'descr' must be a string, got " + descr->text);
  }
  header.descr = descr->text;

  if (fortran_order->kind != Literal::Kind::kBool) {
    fail_header(path, "'fortran_order' must be True or False, got " + fortran_order->text);
  }
  header.fortran_order = fortran_order->flag;

  if (shape->kind != Literal::Kind::kTuple) {
    fail_header(path, "'shape' must be a tuple of non-negative integers, got " + shape->text);
  }
  for (const Literal& extent : shape->items) {
    if (extent.kind != Literal::Kind::kInt || extent.integer < 0) {
      fail_header(path, "'shape' must be a tuple of non-negative integers, got " + shape->text);
    }
    header.shape.push_back(extent.integer);
  }
  return header;
}

}  // namespace

NpyHeader parse_npy_header(const std::string& text, const std::string& path) {
  return interpret_header(HeaderParser(text, path).parse_header(), path);
}

}  // namespace xbar::engine::io::internal
