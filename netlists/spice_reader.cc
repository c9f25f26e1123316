#include "netlists/spice_reader.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <utility>
#include <vector>

#include "support/input_error.h"
#include "support/text_file.h"
#include "support/utf8.h"

namespace xbar::netlists {

namespace internal {

namespace {

bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
bool is_alpha(char ch) { return std::isalpha(static_cast<unsigned char>(ch)) != 0; }
char lower(char ch) { return char(std::tolower(static_cast<unsigned char>(ch))); }

// True when text starts with the lowercase word `w`, ignoring case.
bool starts_with_ci(std::string_view text, std::string_view w) {
  if (text.size() < w.size()) return false;
  for (size_t k = 0; k < w.size(); ++k)
    if (lower(text[k]) != w[k]) return false;
  return true;
}

}  // namespace

std::optional<double> parse_spice_number(std::string_view text) {
  // One mil is a thousandth of an inch, in metres (the SPICE definition).
  constexpr double kMilM = 25.4e-6;
  // Exponents are clamped here before the suffix is added: anything beyond already over- or
  // underflows a double, and the clamp keeps the sum from overflowing a long.
  constexpr long kExponentClamp = 100000;

  size_t p = 0;
  const size_t n = text.size();
  bool negative = false;
  if (p < n && (text[p] == '+' || text[p] == '-')) negative = text[p++] == '-';
  const size_t mantissa_start = p;
  size_t digits = 0;
  while (p < n && is_digit(text[p])) ++p, ++digits;
  if (p < n && text[p] == '.') {
    ++p;
    while (p < n && is_digit(text[p])) ++p, ++digits;
  }
  if (digits == 0) return std::nullopt;
  const std::string_view mantissa = text.substr(mantissa_start, p - mantissa_start);

  // Exponent, only when digits follow: "1e" is 1 with a unit letter, as in SPICE.
  long exponent = 0;
  if (p < n && (text[p] == 'e' || text[p] == 'E')) {
    size_t q = p + 1;
    bool exp_negative = false;
    if (q < n && (text[q] == '+' || text[q] == '-')) exp_negative = text[q++] == '-';
    if (q < n && is_digit(text[q])) {
      while (q < n && is_digit(text[q])) {
        exponent = std::min(exponent * 10 + (text[q] - '0'), kExponentClamp);
        ++q;
      }
      if (exp_negative) exponent = -exponent;
      p = q;
    }
  }

  // Engineering suffix; "meg" and "mil" before "m" (milli).
  std::string_view rest = text.substr(p);
  bool mil = false;
  if (starts_with_ci(rest, "meg")) {
    exponent += 6;
    rest.remove_prefix(3);
  } else if (starts_with_ci(rest, "mil")) {
    mil = true;
    rest.remove_prefix(3);
  } else if (!rest.empty()) {
    switch (lower(rest[0])) {
      case 'f': exponent -= 15; break;
      case 'p': exponent -= 12; break;
      case 'n': exponent -= 9; break;
      case 'u': exponent -= 6; break;
      case 'm': exponent -= 3; break;
      case 'k': exponent += 3; break;
      case 'g': exponent += 9; break;
      case 't': exponent += 12; break;
      default: break;  // a unit without a scale ("5ohm", "10v")
    }
    if (!is_alpha(rest[0])) return std::nullopt;
  }
  // Whatever letters remain are units and ignored, as in SPICE; anything else is an error.
  for (char ch : rest)
    if (!is_alpha(ch)) return std::nullopt;

  // Parse mantissa and total exponent in one correctly rounded step: "1.1k" becomes the
  // double nearest 1100, not 1.1 * 1000 (which is one ulp above it).
  char buf[64];
  std::string spelled;
  spelled.reserve(mantissa.size() + 16);
  spelled.append(mantissa.data(), mantissa.size());
  spelled.push_back('e');
  const auto er = std::to_chars(buf, buf + sizeof buf, exponent);
  spelled.append(buf, er.ptr);
  double value = 0.0;
  const auto r = std::from_chars(spelled.data(), spelled.data() + spelled.size(), value);
  if (r.ec == std::errc::result_out_of_range) {
    value = exponent > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  } else if (r.ec != std::errc() || r.ptr != spelled.data() + spelled.size()) {
    return std::nullopt;
  }
  if (mil) value *= kMilM;
  return negative ? -value : value;
}

}  // namespace internal

namespace {

using internal::parse_spice_number;

std::string shortest(double v) {
  char buf[32];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Cuts an inline comment (';' anywhere, '$' at the start or after whitespace, the ngspice
// rules) and lowercases the rest in place: SPICE is case-insensitive and ngspice lowercases
// every name and node.
void strip_comment_and_lower(std::string& s) {
  for (size_t k = 0; k < s.size(); ++k) {
    const char ch = s[k];
    if (ch == ';' || (ch == '$' && (k == 0 || s[k - 1] == ' ' || s[k - 1] == '\t'))) {
      s.resize(k);
      return;
    }
    s[k] = char(std::tolower(static_cast<unsigned char>(ch)));
  }
}

bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits on whitespace; '=' is a token of its own so "r=1k", "r = 1k" and "dc=1" all read
// the same.
void tokenize(std::string_view line, std::vector<std::string_view>& tokens) {
  tokens.clear();
  size_t k = 0;
  while (k < line.size()) {
    if (is_space(line[k])) {
      ++k;
    } else if (line[k] == '=') {
      tokens.push_back(line.substr(k, 1));
      ++k;
    } else {
      const size_t start = k;
      while (k < line.size() && !is_space(line[k]) && line[k] != '=') ++k;
      tokens.push_back(line.substr(start, k - start));
    }
  }
}

// Why ngspice would read `name` differently from this reader, or "" when it reads it alike.
// Checked on ngspice 39 (`ngspice -b`): a ',' or ')' in a node name is a field separator ("unknown
// parameter"), '{' starts a parameter expression and a quote an expression ("fatal error"), and
// every byte outside ASCII becomes '_' (so "\u03a9n" and "\u03a8n" are one node "__n"); the
// SPICE3 manual lists ',', '=', '(' and ')' as field separators. The tokenizer makes '=' a token
// of its own, so it reaches here as the whole name "=" where a node belongs ("r1 a = 1k"), which
// ngspice reads as r1 from a to a node "1k" with no value (found by the fuzzer). Such a deck means a different
// circuit to ngspice than to xbar, so it is refused rather than solved.
std::string ngspice_reads_differently(std::string_view name) {
  for (const char ch : name) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte >= 0x80)
      return "holds a byte outside ASCII, which ngspice turns into '_' (merging names that differ "
             "only there); use ASCII names";
    if (byte < 0x20 || byte == 0x7f)
      return "holds a control character (byte " + std::to_string(int(byte)) + ")";
    if (ch == ',' || ch == '(' || ch == ')' || ch == '=')
      return std::string("holds '") + ch + "', a field separator to ngspice; rename it";
    if (ch == '{' || ch == '}' || ch == '\'' || ch == '"')
      return std::string("holds '") + ch + "', which starts an expression to ngspice; rename it";
  }
  return "";
}

bool looks_numeric(std::string_view t) {
  return !t.empty() && (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '.' ||
                        t[0] == '+' || t[0] == '-');
}

// Turns logical lines into a Circuit; checks what needs the whole deck in finish().
class DeckReader {
 public:
  explicit DeckReader(const std::string& filename) : filename_(filename) {}

  // Handles one logical line (comments gone, continuations joined, lowercased) that starts
  // on physical line `line`. Returns false at .end.
  bool process(std::string_view text, int64_t line) {
    tokenize(text, tokens_);
    if (tokens_.empty()) return true;
    const std::string_view first = tokens_[0];
    if (in_control_) {
      if (first == ".endc") in_control_ = false;
      return true;  // a control block is ngspice's script language, not circuit
    }
    if (first[0] == '.') return process_dot_card(first, line);
    read_element(line);
    return true;
  }

  Circuit finish(int64_t last_line) {
    if (in_control_) fail(control_line_, ".control without a closing .endc");
    if (circuit_.elements().empty()) {
      fail(std::max<int64_t>(last_line, 1),
           "deck has no elements (this reader expects R, V and I lines)");
    }
    check_duplicate_names();
    check_dangling_nodes();
    return std::move(circuit_);
  }

  [[noreturn]] void fail(int64_t line, const std::string& what) const {
    throw InputError(filename_ + ":" + std::to_string(line) + ": " + what);
  }

 private:
  bool process_dot_card(std::string_view card, int64_t line) {
    if (card == ".end") return false;
    if (card == ".control") {
      in_control_ = true;
      control_line_ = line;
      return true;
    }
    // Cards that do not change the circuit; ngspice's own analyses are driven by the caller.
    static constexpr std::string_view kIgnored[] = {".op",    ".option", ".options", ".title",
                                                    ".save",  ".print",  ".probe"};
    for (std::string_view ignored : kIgnored)
      if (card == ignored) return true;
    fail(line, "unsupported dot card '" + std::string(card) +
                   "' (this reader handles .op, .option(s), .title, .save, .print, .probe, "
                   ".control ... .endc and .end)");
  }

  void read_element(int64_t line) {
    const std::string_view name = tokens_[0];
    ElementKind kind;
    const char* kind_word;
    switch (name[0]) {
      case 'r': kind = ElementKind::kResistor, kind_word = "resistor"; break;
      case 'v': kind = ElementKind::kVoltageSource, kind_word = "voltage source"; break;
      case 'i': kind = ElementKind::kCurrentSource, kind_word = "current source"; break;
      default:
        fail(line, "unsupported element '" + std::string(name) +
                       "' (this reader handles R, V and I)");
    }
    if (const std::string why = ngspice_reads_differently(name); !why.empty())
      fail(line, "element name '" + std::string(name) + "' " + why);
    const std::string label = std::string(kind_word) + " '" + std::string(name) + "'";
    const std::string missing = label + " needs 2 nodes and a value";
    if (tokens_.size() < 4) fail(line, missing);

    size_t value_at = 3;
    if (kind == ElementKind::kResistor) {
      if (tokens_[3] == "r" && tokens_.size() > 4 && tokens_[4] == "=") value_at = 5;
      if (value_at >= tokens_.size()) fail(line, missing);
      if (value_at + 1 < tokens_.size()) {
        fail(line, label + ": unexpected field '" + std::string(tokens_[value_at + 1]) +
                       "' after the value (this reader takes no resistor parameters)");
      }
    } else {
      if (tokens_[3] == "dc") {
        value_at = tokens_.size() > 4 && tokens_[4] == "=" ? 5 : 4;
        if (value_at >= tokens_.size()) fail(line, missing);
      } else if (!looks_numeric(tokens_[3])) {
        fail(line, label + ": unsupported source specification '" + std::string(tokens_[3]) +
                       "' (this reader handles 'dc value' and a bare value)");
      }
      if (value_at + 1 < tokens_.size()) {
        fail(line, label + ": unsupported source specification '" +
                       std::string(tokens_[value_at + 1]) +
                       "' (this reader handles 'dc value' and a bare value)");
      }
    }

    const std::string_view token = tokens_[value_at];
    const std::optional<double> value = parse_spice_number(token);
    if (!value) fail(line, label + ": '" + std::string(token) + "' is not a number");
    if (!std::isfinite(*value)) {
      fail(line, label + ": value '" + std::string(token) + "' is not finite");
    }
    if (kind == ElementKind::kResistor && !(*value > 0.0)) {
      // R = 0 would be a short the solver has to merge and ngspice clamps; write_spice() emits
      // shorts as 0 V sources, so a deck never needs it.
      fail(line, label + ": resistance must be > 0 ohm, got " + shortest(*value));
    }
    if (kind == ElementKind::kResistor && *value < kMinResistanceOhm) {
      // The solvers refuse it too, but could not say where it is written (issue 17). A
      // suffix 'f' is femto in SPICE, not farad: "1f" is 1e-15 ohm.
      const bool femto = token.find_first_of("fF") != std::string_view::npos;
      fail(line, label + ": " + shortest(*value) + " ohm is below " + shortest(kMinResistanceOhm) +
                     " ohm, the smallest resistance xbar solves" +
                     (femto ? " (the suffix f is femto, 1e-15, in SPICE)" : ""));
    }

    for (size_t t : {size_t(1), size_t(2)})
      if (const std::string why = ngspice_reads_differently(tokens_[t]); !why.empty())
        fail(line, label + ": node name '" + std::string(tokens_[t]) + "' " + why);
    const int32_t pos = circuit_.node(std::string(tokens_[1]));
    const int32_t neg = circuit_.node(std::string(tokens_[2]));
    if (pos == neg) {
      fail(line, label + ": both terminals on node '" + circuit_.node_name(pos) + "'");
    }
    const size_t index = circuit_.add_element(kind, pos, neg, *value, std::string(name));
    element_line_.push_back(line);
    name_hashes_.emplace_back(std::hash<std::string_view>{}(name), uint32_t(index));
  }

  // Sorting (hash, index) pairs costs 16 bytes per element where a hash set of the names
  // would cost about 64: it matters for a 2048^2 deck of 12.6 million elements.
  void check_duplicate_names() {
    std::sort(name_hashes_.begin(), name_hashes_.end());
    size_t best_later = SIZE_MAX, best_first = 0;  // the duplicate a line-by-line scan meets first
    for (size_t a = 0; a < name_hashes_.size();) {
      size_t b = a + 1;
      while (b < name_hashes_.size() && name_hashes_[b].first == name_hashes_[a].first) ++b;
      // [a, b) share a hash and are in element order; compare names only inside the group.
      for (size_t x = a + 1; x < b; ++x) {
        const std::string nx = circuit_.element_name(name_hashes_[x].second);
        for (size_t y = a; y < x; ++y) {
          if (circuit_.element_name(name_hashes_[y].second) != nx) continue;
          if (name_hashes_[x].second < best_later) {
            best_later = name_hashes_[x].second;
            best_first = name_hashes_[y].second;
          }
          break;
        }
      }
      a = b;
    }
    if (best_later != SIZE_MAX) {
      fail(element_line_[best_later], "duplicate element name '" +
                                          circuit_.element_name(best_later) +
                                          "' (first on line " +
                                          std::to_string(element_line_[best_first]) + ")");
    }
  }

  // A node touched by one terminal carries no current and, for a node only a current source
  // touches, makes the system singular; either way the deck is almost surely mistyped.
  void check_dangling_nodes() {
    const size_t n = size_t(circuit_.num_nodes());
    std::vector<uint8_t> terminals(n, 0);  // saturates at 2: only "exactly one" matters
    std::vector<uint32_t> first_element(n, 0);
    const auto& elements = circuit_.elements();
    for (size_t k = 0; k < elements.size(); ++k) {
      for (int32_t node : {elements[k].pos, elements[k].neg}) {
        if (node < 0) continue;
        if (terminals[size_t(node)] == 0) first_element[size_t(node)] = uint32_t(k);
        if (terminals[size_t(node)] < 2) ++terminals[size_t(node)];
      }
    }
    // Node ids are in order of first appearance, so the first hit is the earliest in the deck.
    for (size_t id = 0; id < n; ++id) {
      if (terminals[id] != 1) continue;
      const uint32_t k = first_element[id];
      fail(element_line_[k], "dangling node '" + circuit_.node_name(int32_t(id)) +
                                 "': only '" + circuit_.element_name(k) +
                                 "' connects to it (a node needs at least two element terminals)");
    }
  }

  const std::string& filename_;
  Circuit circuit_;
  std::vector<int64_t> element_line_;  // physical line where element k starts
  std::vector<std::pair<size_t, uint32_t>> name_hashes_;
  std::vector<std::string_view> tokens_;  // reused for every line
  bool in_control_ = false;
  int64_t control_line_ = 0;
};

}  // namespace

Circuit read_spice(std::istream& in, const std::string& filename, const TextLimits& limits) {
  DeckReader reader(filename);
  std::string raw, pending;  // pending: the logical line being assembled
  int64_t line = 0, pending_line = 0;
  bool ended = false;
  BoundedLines lines(in, filename, limits);
  while (lines.next(raw)) {
    line = lines.line_no();
    if (line == 1) continue;  // the title, whatever it holds (ngspice does the same)
    strip_comment_and_lower(raw);
    const std::string_view text = trim(raw);
    // Names and nodes end up in JSON results, which must be UTF-8 (support/utf8.h).
    if (const auto bad = first_invalid_utf8(text)) reader.fail(line, describe_invalid_utf8(text, *bad));
    if (text.empty() || text[0] == '*') continue;
    if (text[0] == '+') {
      if (pending.empty()) reader.fail(line, "continuation line '+' has no line to continue");
      pending.push_back(' ');
      pending.append(text.data() + 1, text.size() - 1);
      continue;
    }
    if (!pending.empty() && !reader.process(pending, pending_line)) {
      ended = true;
      break;
    }
    pending.assign(text.data(), text.size());
    pending_line = line;
  }
  if (!ended && !pending.empty() && !reader.process(pending, pending_line)) ended = true;
  return reader.finish(ended ? pending_line : line);
}

Circuit read_spice_file(const std::string& path, const TextLimits& limits) {
  std::ifstream in = open_text_file(path, path + ": cannot open SPICE deck");
  return read_spice(in, path, limits);
}

}  // namespace xbar::netlists
