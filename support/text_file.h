// Text inputs with bounds: every text reader of xbar (INI files, sweep INIs, SPICE decks, level
// tables, sweep records) opens its file and reads its lines through these two helpers, so that
// a small input never costs unbounded memory or time (issue 17: `--config /dev/zero` read one
// endless line into gigabytes) and a directory or a device is refused by name.
//
//   std::ifstream in = xbar::open_text_file("S.ini", "cannot open sweep config file 'S.ini'");
//   xbar::BoundedLines lines(in, "S.ini", {xbar::kIniMaxLineBytes, xbar::kIniMaxFileBytes});
//   for (std::string raw; lines.next(raw);)
//     use(raw, lines.line_no());
//
// Contract:
//   - open_text_file accepts a regular file or a pipe (`--config <(generate)`); a directory, a
//     device (/dev/zero, /dev/null, a terminal) or a socket is refused with InputError
//     "<cannot_open>: it is a directory (expected a file)"; so is a path that does not exist or
//     cannot be opened (the system's reason is given).
//   - BoundedLines::next returns the lines as std::getline would (without '\n'; a last line
//     without '\n' counts), after removing a UTF-8 byte order mark at the very start (editors
//     on Windows write one; it is not part of the first key). It throws InputError
//       "<name>:<line>: line longer than N bytes (...)",
//       "<name>: more than N bytes (...)" once the input exceeds the file bound, and
//       "<name>:<line>: NUL byte at column C (...)": text files hold no NUL, and a NUL inside a
//       message would cut it short (std::exception::what() is a C string).
//     Memory is bounded by the line limit plus one 64 KiB buffer, time by the file limit.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <string>
#include <vector>

#include "support/input_error.h"

namespace xbar {

// Bounds of one text input; the readers name theirs next to their grammar.
struct TextLimits {
  std::size_t max_line_bytes = std::size_t(1) << 20;  // longest line, '\n' excluded
  std::uint64_t max_file_bytes = std::uint64_t(64) << 20;  // the whole input
};

// Configuration INI files (`--config`, the sweep INI): a line holds one key and its value or
// list of values (a sweep list of 100,000 numbers is ~1 MB), a file a few hundred keys.
inline constexpr std::size_t kIniMaxLineBytes = std::size_t(4) << 20;
inline constexpr std::uint64_t kIniMaxFileBytes = std::uint64_t(64) << 20;

// Human-readable byte counts for the messages ("4 MiB", "64 MiB", "1000 bytes").
inline std::string describe_bytes(std::uint64_t n) {
  if (n >= (std::uint64_t(1) << 30) && n % (std::uint64_t(1) << 30) == 0)
    return std::to_string(n >> 30) + " GiB";
  if (n >= (std::uint64_t(1) << 20) && n % (std::uint64_t(1) << 20) == 0)
    return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

// Opens `path` for reading; `cannot_open` starts every message, in the reader's own style
// ("cannot open config file 'a.ini'", "deck.cir: cannot open SPICE deck"), ": <reason>" follows.
inline std::ifstream open_text_file(const std::string& path, const std::string& cannot_open) {
  const std::string prefix = cannot_open + ": ";
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw InputError(prefix + std::strerror(errno));
  if (S_ISDIR(info.st_mode)) throw InputError(prefix + "it is a directory (expected a file)");
  if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode))
    throw InputError(prefix + "it is a device, not a file (expected a regular file or a pipe)");
  if (S_ISSOCK(info.st_mode)) throw InputError(prefix + "it is a socket (expected a regular file or a pipe)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(prefix + std::strerror(errno));
  return in;
}

// The whole of the file at `path` (opened as by open_text_file), at most `max_bytes` of it:
// InputError "<path>: more than N bytes (...)" beyond. For small machine-written files (JSON
// records) that are parsed whole.
inline std::string read_text_file(const std::string& path, const std::string& cannot_open,
                                  std::uint64_t max_bytes) {
  std::ifstream in = open_text_file(path, cannot_open);
  std::string text;
  std::vector<char> block(std::size_t(1) << 16);
  for (std::streamsize got; (got = in.rdbuf()->sgetn(block.data(), std::streamsize(block.size()))) > 0;) {
    if (text.size() + std::uint64_t(got) > max_bytes)
      throw InputError(path + ": more than " + describe_bytes(max_bytes) +
                       " (the largest file of this kind; a device or an endless pipe?)");
    text.append(block.data(), std::size_t(got));
  }
  return text;
}

// Lines of a text input, bounded as in the contract above.
class BoundedLines {
 public:
  BoundedLines(std::istream& in, std::string name, TextLimits limits)
      : in_(in), name_(std::move(name)), limits_(limits), buffer_(kBufferBytes) {}

  // The next line into `line`; false at the end of the input (see the contract).
  bool next(std::string& line) {
    line.clear();
    bool any = false;  // a character or a '\n' was consumed: there is a line
    for (;;) {
      if (pos_ == end_ && !refill()) break;
      any = true;
      const char* begin = buffer_.data() + pos_;
      const char* stop = static_cast<const char*>(std::memchr(begin, '\n', end_ - pos_));
      const std::size_t take = stop ? std::size_t(stop - begin) : end_ - pos_;
      if (line.size() + take > limits_.max_line_bytes)
        fail(std::to_string(line_no_ + 1) + ": line longer than " + describe_bytes(limits_.max_line_bytes) +
             " (a binary file, or a device read as text?)");
      line.append(begin, take);
      pos_ += take;
      if (stop) {
        ++pos_;  // the '\n'
        break;
      }
    }
    if (!any) return false;
    ++line_no_;
    if (line_no_ == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    if (const void* nul = std::memchr(line.data(), '\0', line.size()))
      fail(std::to_string(line_no_) + ": NUL byte at column " +
           std::to_string(static_cast<const char*>(nul) - line.data() + 1) +
           " (text files hold none; is this a binary file?)");
    return true;
  }

  // The number of the line next() returned last (1-based; 0 before the first).
  std::int64_t line_no() const { return line_no_; }

 private:
  static constexpr std::size_t kBufferBytes = std::size_t(1) << 16;

  bool refill() {
    if (eof_) return false;
    const std::streamsize got = in_.rdbuf() ? in_.rdbuf()->sgetn(buffer_.data(), std::streamsize(buffer_.size())) : 0;
    pos_ = 0;
    end_ = got > 0 ? std::size_t(got) : 0;
    if (end_ == 0) {
      eof_ = true;
      return false;
    }
    total_ += end_;
    if (total_ > limits_.max_file_bytes)
      throw InputError(name_ + ": more than " + describe_bytes(limits_.max_file_bytes) +
                       " (the largest input of this kind; a device or an endless pipe?)");
    return true;
  }

  [[noreturn]] void fail(const std::string& where_and_what) const {
    throw InputError(name_ + ":" + where_and_what);
  }

  std::istream& in_;
  std::string name_;
  TextLimits limits_;
  std::vector<char> buffer_;
  std::size_t pos_ = 0, end_ = 0;
  std::uint64_t total_ = 0;
  std::int64_t line_no_ = 0;
  bool eof_ = false;
};

}  // namespace xbar
