// write_file_atomically and ensure_directory: a reader must see the old file or the whole
// new one, never a torn one, and every failure must name the path and the OS reason.
#include "engine/io/atomic_file.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/input_error.h"

namespace fs = std::filesystem;

namespace {

// A fresh directory per test case, removed afterwards; pid + random so that ctest -j2
// running other test files at the same time cannot collide with it.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device device;
    path_ = fs::temp_directory_path() / ("xbar_atomic_file_test_" + std::to_string(::getpid()) +
                                         "_" + std::to_string(device()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

  // Every entry of the directory, to prove no temporary was left behind.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

 private:
  fs::path path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_plain(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// The message an InputError carries, or "" if `action` did not throw one.
template <typename Action>
std::string input_error_message(Action action) {
  try {
    action();
  } catch (const xbar::InputError& error) {
    return error.what();
  }
  return "";
}

// More than the writer's internal 64 KiB buffer, so some bytes reach the temporary file on
// disk before the writer fails: the cleanup must remove a real, non-empty file.
constexpr std::size_t kBytesBeyondBuffer = 300 * 1000;

}  // namespace

TEST_CASE("write_file_atomically writes the content under the final name and nothing else") {
  ScratchDir dir;
  const std::string path = dir.file("result.json");
  xbar::engine::io::write_file_atomically(path, [](std::ostream& os) { os << "{\"ok\": true}\n"; });
  CHECK(read_all(path) == "{\"ok\": true}\n");
  CHECK(dir.entries() == std::vector<std::string>{"result.json"});
}

TEST_CASE("write_file_atomically replaces an existing file and handles large outputs") {
  ScratchDir dir;
  const std::string path = dir.file("big.bin");
  write_plain(path, "old content");
  const std::string big(kBytesBeyondBuffer, 'x');
  xbar::engine::io::write_file_atomically(path, [&](std::ostream& os) {
    os << "head";
    os.write(big.data(), static_cast<std::streamsize>(big.size()));  // bypasses the buffer
    os << "tail";
  });
  CHECK(read_all(path) == "head" + big + "tail");
  CHECK(dir.entries() == std::vector<std::string>{"big.bin"});
}

TEST_CASE("a writer that throws midway leaves neither the final file nor a temporary") {
  ScratchDir dir;
  const std::string path = dir.file("currents.npy");
  const std::string big(kBytesBeyondBuffer, 'x');
  // The writer's own exception propagates unchanged: it already says what went wrong.
  CHECK_THROWS_WITH_AS(xbar::engine::io::write_file_atomically(path,
                                                           [&](std::ostream& os) {
                                                             os << big;
                                                             throw std::runtime_error("boom");
                                                           }),
                       "boom", std::runtime_error);
  CHECK_FALSE(fs::exists(path));
  CHECK(dir.entries().empty());
}

TEST_CASE("a writer that throws leaves the previous file intact") {
  ScratchDir dir;
  const std::string path = dir.file("g_programmed.npy");
  write_plain(path, "previous result");
  CHECK_THROWS_AS(xbar::engine::io::write_file_atomically(path,
                                                      [](std::ostream& os) {
                                                        os << "partial";
                                                        throw std::runtime_error("stop");
                                                      }),
                  std::runtime_error);
  CHECK(read_all(path) == "previous result");
  CHECK(dir.entries() == std::vector<std::string>{"g_programmed.npy"});
}

TEST_CASE("a writer that leaves its stream failed gives an InputError and no file") {
  ScratchDir dir;
  const std::string path = dir.file("out.csv");
  const std::string message = input_error_message([&] {
    xbar::engine::io::write_file_atomically(path, [](std::ostream& os) {
      os << "a,b\n";
      os.setstate(std::ios::failbit);
    });
  });
  CHECK(message == "cannot write '" + path + "': the output stream failed");
  CHECK(dir.entries().empty());
}

TEST_CASE("writing into a missing directory names the path and the OS error") {
  ScratchDir dir;
  const std::string path = dir.file("no_such_dir/x.npy");
  const std::string message =
      input_error_message([&] { xbar::engine::io::write_file_atomically(path, [](std::ostream&) {}); });
  CHECK(message == "cannot write '" + path + "': No such file or directory");
  CHECK(dir.entries().empty());
}

TEST_CASE("writing below a regular file names the path and the OS error") {
  ScratchDir dir;
  write_plain(dir.file("plain"), "");
  const std::string path = dir.file("plain/x.npy");
  const std::string message =
      input_error_message([&] { xbar::engine::io::write_file_atomically(path, [](std::ostream&) {}); });
  CHECK(message == "cannot write '" + path + "': Not a directory");
}

TEST_CASE("writing onto an existing directory fails at the rename and cleans up") {
  ScratchDir dir;
  const std::string path = dir.file("taken");
  fs::create_directory(path);
  const std::string message = input_error_message(
      [&] { xbar::engine::io::write_file_atomically(path, [](std::ostream& os) { os << "x"; }); });
  CHECK(message == "cannot write '" + path + "': Is a directory");
  CHECK(dir.entries() == std::vector<std::string>{"taken"});
}

TEST_CASE("writing into a read-only directory names the path and Permission denied") {
  // root bypasses permission bits, so this case can only be exercised as a normal user;
  // the missing-directory and not-a-directory cases above cover the same code path.
  if (::geteuid() == 0) {
    MESSAGE("running as root: permission bits do not apply, read-only case not exercised");
    return;
  }
  ScratchDir dir;
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  const std::string path = dir.file("x.npy");
  const std::string message =
      input_error_message([&] { xbar::engine::io::write_file_atomically(path, [](std::ostream&) {}); });
  CHECK(message == "cannot write '" + path + "': Permission denied");
}

TEST_CASE("ensure_directory creates missing parents and accepts an existing directory") {
  ScratchDir dir;
  const std::string nested = dir.file("a/b/c");
  xbar::engine::io::ensure_directory(nested);
  CHECK(fs::is_directory(nested));
  xbar::engine::io::ensure_directory(nested);        // again: already there, fine
  xbar::engine::io::ensure_directory(nested + "/");  // trailing slash, fine
  CHECK(fs::is_directory(nested));
}

TEST_CASE("ensure_directory refuses a path that exists as a regular file") {
  ScratchDir dir;
  write_plain(dir.file("file"), "");
  const std::string itself = dir.file("file");
  CHECK(input_error_message([&] { xbar::engine::io::ensure_directory(itself); }) ==
        "cannot create output directory '" + itself + "': it exists and is not a directory");

  const std::string below = dir.file("file/sub/dir");
  CHECK(input_error_message([&] { xbar::engine::io::ensure_directory(below); }) ==
        "cannot create output directory '" + below + "': '" + itself +
            "' exists and is not a directory");
}

TEST_CASE("ensure_directory reports the OS error when it cannot create the directory") {
  // /proc is not writable even for root, so this works whatever the user.
  const std::string target = "/proc/xbar_cannot_create_here";
  const std::string message = input_error_message([&] { xbar::engine::io::ensure_directory(target); });
  CHECK(message.rfind("cannot create output directory '" + target + "': ", 0) == 0);
  CHECK(message.size() > std::string("cannot create output directory '" + target + "': ").size());
  CHECK(input_error_message([] { xbar::engine::io::ensure_directory(""); }) ==
        "cannot create output directory '': the directory name is empty");
}

// ---- StagedOutputs: a run's outputs replace the previous run's together ----

TEST_CASE("staged outputs appear only at commit, in order, and replace the previous ones") {
  ScratchDir dir;
  write_plain(dir.file("a.npy"), "old a");
  write_plain(dir.file("stale.npy"), "from an earlier run");
  write_plain(dir.file("result.json"), "old result");
  {
    xbar::engine::io::StagedOutputs outputs;
    outputs.write(dir.file("a.npy"), [](std::ostream& os) { os << "new a"; });
    outputs.write(dir.file("b.npy"), [](std::ostream& os) { os << "new b"; });
    outputs.remove(dir.file("stale.npy"));
    outputs.remove(dir.file("never_existed.npy"));  // nothing to remove: fine
    outputs.write(dir.file("result.json"), [](std::ostream& os) { os << "new result"; });
    // Before commit(): every previous file as it was, the new ones only as temporaries.
    CHECK(read_all(dir.file("a.npy")) == "old a");
    CHECK(read_all(dir.file("stale.npy")) == "from an earlier run");
    CHECK(read_all(dir.file("result.json")) == "old result");
    CHECK(!fs::exists(dir.file("b.npy")));
    CHECK(dir.entries().size() == 6);  // 3 previous files + 3 temporaries
    outputs.commit();
  }
  CHECK(read_all(dir.file("a.npy")) == "new a");
  CHECK(read_all(dir.file("b.npy")) == "new b");
  CHECK(read_all(dir.file("result.json")) == "new result");
  CHECK(!fs::exists(dir.file("stale.npy")));
  CHECK(dir.entries().size() == 3);
}

TEST_CASE("staged outputs that are never committed leave the previous files and no temporary") {
  ScratchDir dir;
  write_plain(dir.file("a.npy"), "old a");
  write_plain(dir.file("result.json"), "old result");
  // A run that fails after writing some outputs: the exception unwinds the set.
  CHECK_THROWS_AS(
      [&] {
        xbar::engine::io::StagedOutputs outputs;
        outputs.write(dir.file("a.npy"), [](std::ostream& os) { os << std::string(kBytesBeyondBuffer, 'x'); });
        outputs.remove(dir.file("result.json"));
        outputs.write(dir.file("b.npy"), [](std::ostream& os) {
          os << "half";
          throw std::runtime_error("the run failed while writing b.npy");
        });
      }(),
      std::runtime_error);
  CHECK(read_all(dir.file("a.npy")) == "old a");
  CHECK(read_all(dir.file("result.json")) == "old result");
  const std::vector<std::string> left = dir.entries();
  CHECK(left.size() == 2);
}

TEST_CASE("a staged output that cannot be written names its path, and the set stays uncommitted") {
  ScratchDir dir;
  write_plain(dir.file("a.npy"), "old a");
  xbar::engine::io::StagedOutputs outputs;
  outputs.write(dir.file("a.npy"), [](std::ostream& os) { os << "new a"; });
  const std::string missing = dir.file("missing/b.npy");
  CHECK(input_error_message([&] { outputs.write(missing, [](std::ostream& os) { os << "b"; }); }) ==
        "cannot write '" + missing + "': No such file or directory");
  CHECK(read_all(dir.file("a.npy")) == "old a");
}
