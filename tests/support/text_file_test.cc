// BoundedLines and open_text_file (support/text_file.h) against std::getline and the file
// system: the same lines as getline on ordinary text, a clear message at each bound, a NUL
// byte or a directory or device refused by name, a leading byte order mark dropped.
#include "support/text_file.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using xbar::BoundedLines;
using xbar::InputError;
using xbar::TextLimits;

namespace {

// Small bounds, so that the tests stay small: 16-byte lines, 64-byte inputs.
constexpr TextLimits kSmall{16, 64};

std::vector<std::string> bounded(const std::string& text, TextLimits limits = {}) {
  std::istringstream in(text);
  BoundedLines lines(in, "t.txt", limits);
  std::vector<std::string> out;
  for (std::string l; lines.next(l);) out.push_back(l);
  return out;
}

// The referee: std::getline on the same text.
std::vector<std::string> getline_lines(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string error_of(const std::string& text, TextLimits limits) {
  try {
    bounded(text, limits);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("bounded lines are the lines std::getline gives, for ordinary text") {
  const std::vector<std::string> texts = {"", "\n", "a", "a\n", "a\nb", "a\n\nb\n", "r-row = 2.5\r\n[wires]\n",
                                         std::string(70000, 'x') + "\n" + std::string(3, 'y')};
  for (const std::string& text : texts) {
    INFO(text.size());
    CHECK(bounded(text) == getline_lines(text));
  }
}

TEST_CASE("the line numbers count every line, blank ones too") {
  std::istringstream in("a\n\nc\n");
  BoundedLines lines(in, "t.txt", {});
  std::string l;
  REQUIRE(lines.next(l));
  CHECK(lines.line_no() == 1);
  REQUIRE(lines.next(l));
  CHECK(lines.line_no() == 2);
  REQUIRE(lines.next(l));
  CHECK(l == "c");
  CHECK(lines.line_no() == 3);
  CHECK(!lines.next(l));
}

TEST_CASE("a line longer than the bound is refused with its number, at the bound exactly not") {
  CHECK(bounded(std::string(16, 'a') + "\n", kSmall) == std::vector<std::string>{std::string(16, 'a')});
  CHECK(error_of("ok\n" + std::string(17, 'a') + "\n", kSmall) ==
        "t.txt:2: line longer than 16 bytes (a binary file, or a device read as text?)");
  // Without any '\n' (a device of zeros read as text): refused after the bound, not at the end.
  CHECK(error_of(std::string(1000, 'z'), {16, 1 << 20}).rfind("t.txt:1: line longer than 16 bytes", 0) == 0);
}

TEST_CASE("an input longer than the file bound is refused by name") {
  std::string text;
  for (int k = 0; k < 20; ++k) text += "line\n";  // 100 bytes in short lines
  CHECK(error_of(text, kSmall) == "t.txt: more than 64 bytes (the largest input of this kind; a device or an endless pipe?)");
}

TEST_CASE("a NUL byte is refused with its line and column") {
  CHECK(error_of(std::string("a = 1\nr-row = 2", 15) + std::string(1, '\0') + "x\n", {}) ==
        "t.txt:2: NUL byte at column 10 (text files hold none; is this a binary file?)");
}

TEST_CASE("a UTF-8 byte order mark at the start is not part of the first line") {
  CHECK(bounded("\xEF\xBB\xBFr-row = 2.5\n") == std::vector<std::string>{"r-row = 2.5"});
  // Elsewhere it is text like any other (and left to the reader's own checks).
  CHECK(bounded("a\n\xEF\xBB\xBF" "b\n") == std::vector<std::string>{"a", "\xEF\xBB\xBF" "b"});
}

TEST_CASE("open_text_file refuses a directory, a device and a missing file, naming them") {
  char tmpl[] = "/tmp/xbar_text_file_XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir = tmpl;
  std::ofstream(dir / "ok.ini") << "a = 1\n";
  CHECK_NOTHROW(xbar::open_text_file((dir / "ok.ini").string(), "cannot open config file"));
  CHECK_THROWS_WITH_AS(xbar::open_text_file(dir.string(), "cannot open config file 'd'"),
                       "cannot open config file 'd': it is a directory (expected a file)", InputError);
  CHECK_THROWS_WITH_AS(xbar::open_text_file("/dev/zero", "cannot open config file '/dev/zero'"),
                       "cannot open config file '/dev/zero': it is a device, not a file (expected a regular "
                       "file or a pipe)",
                       InputError);
  CHECK_THROWS_WITH_AS(xbar::open_text_file((dir / "absent.ini").string(), "cannot open config file 'a'"),
                       "cannot open config file 'a': No such file or directory", InputError);
  std::filesystem::remove_all(dir);
}

TEST_CASE("read_text_file reads a small file whole and refuses a larger one") {
  char tmpl[] = "/tmp/xbar_text_file_XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::filesystem::path dir = tmpl;
  std::ofstream(dir / "r.json") << "{\"a\": 1}\n";
  CHECK(xbar::read_text_file((dir / "r.json").string(), "cannot open", 64) == "{\"a\": 1}\n");
  CHECK_THROWS_WITH_AS(xbar::read_text_file((dir / "r.json").string(), "cannot open", 4),
                       doctest::Contains("r.json: more than 4 bytes"), InputError);
  std::filesystem::remove_all(dir);
}
