// Atomic outputs under SIGKILL (issue 9): a nightly job killed by its scheduler in the middle
// of writing a large output must leave the previous output intact under the final name, and
// at most a clearly named temporary `<final>.tmp.<pid>.<16 hex digits>` next to it (never a
// truncated file under the final name that the next step would read as valid).
//
// The kills are real: the xbar executable is started with fork/exec and killed with SIGKILL
// while its temporary output exists, found by polling the output directory. A run's outputs
// are staged and replaced together at its end (engine/io/atomic_file.h, StagedOutputs), so a kill
// before that leaves every previous output of the run intact, not only the file being written.
// No test hook in xbar slows the writes down: a SPICE deck of a 1024 x 1024 array is formatted
// while it is written (~100 MB, seconds), and the batch voltages.npy below is 16 MiB + fsync.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/engine/cli_harness.h"

namespace fs = std::filesystem;
using namespace xbar::cli_test;

namespace {

// Starts `xbar args...` in `dir` with stdout and stderr discarded; returns its pid.
pid_t spawn_xbar(const fs::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = {XBAR_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(127);
    const int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// The temporary files for `final_name` in `dir` (the atomic_file.h naming scheme).
std::vector<fs::path> temporaries(const fs::path& dir, const std::string& final_name) {
  std::vector<fs::path> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(final_name + ".tmp.", 0) == 0) found.push_back(e.path());
  }
  return found;
}

struct KillResult {
  bool killed_mid_write = false;  // SIGKILL landed while the temporary existed
  uintmax_t temp_bytes = 0;       // its size just before the kill
  int wait_status = 0;
};

// Runs xbar and SIGKILLs it as soon as a temporary for `final_name` holds at least
// `min_bytes`; if the run ends first, killed_mid_write is false.
KillResult kill_while_writing(const fs::path& dir, const std::vector<std::string>& args,
                              const fs::path& out_dir, const std::string& final_name,
                              uintmax_t min_bytes) {
  KillResult r;
  const pid_t pid = spawn_xbar(dir, args);
  for (;;) {
    if (fs::is_directory(out_dir)) {
      std::error_code ec;
      for (const fs::path& t : temporaries(out_dir, final_name)) {
        const uintmax_t size = fs::file_size(t, ec);
        if (!ec && size >= min_bytes) {
          ::kill(pid, SIGKILL);
          r.killed_mid_write = true;
          r.temp_bytes = size;
          break;
        }
      }
    }
    if (r.killed_mid_write) break;
    if (::waitpid(pid, &r.wait_status, WNOHANG) == pid) return r;  // finished before we saw it
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::waitpid(pid, &r.wait_status, 0);
  return r;
}

// Every file in `dir` is one of `outputs` or a clearly named temporary of one of them.
void check_only_outputs_and_named_temporaries(const fs::path& dir, const std::vector<std::string>& outputs) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (std::find(outputs.begin(), outputs.end(), name) != outputs.end()) continue;
    bool named = false;
    for (const std::string& out : outputs) {
      const std::regex temp_name(std::regex_replace(out, std::regex("\\."), "\\.") +
                                 "\\.tmp\\.[0-9]+\\.[0-9a-f]{16}");
      named = named || std::regex_match(name, temp_name);
    }
    INFO(name);
    CHECK(named);
  }
}

}  // namespace

TEST_CASE("SIGKILL while netlist writes a large deck leaves the previous deck intact") {
  Scratch s;
  // The previous output: a complete deck of a small array, from a finished run.
  const Run first = run_xbar(s, {"netlist", "--rows", "4", "--cols", "4", "--quiet", "--out", "deck.cir"});
  REQUIRE_MESSAGE(first.status == 0, first.err);
  const std::string previous = read_all(s.work() / "deck.cir");
  REQUIRE(previous.size() > 100);

  // 1024 x 1024: ~3 million elements, far more than the 1 MB at which the kill lands.
  const KillResult k = kill_while_writing(
      s.work(), {"netlist", "--rows", "1024", "--cols", "1024", "--quiet", "--out", "deck.cir"},
      s.work(), "deck.cir", 1 << 20);
  REQUIRE_MESSAGE(k.killed_mid_write, "the run finished before 1 MB of its deck was written");
  CHECK(WIFSIGNALED(k.wait_status));
  CHECK(WTERMSIG(k.wait_status) == SIGKILL);
  CHECK(k.temp_bytes >= (1u << 20));
  // The final name still holds the previous deck, byte for byte.
  CHECK(read_all(s.work() / "deck.cir") == previous);
  // What the killed run left is its temporary, named as such, and shorter than a full deck.
  const auto temps = temporaries(s.work(), "deck.cir");
  CHECK(temps.size() == 1);
  check_only_outputs_and_named_temporaries(s.work(), {"deck.cir"});

  // The next run is not confused by the leftover and replaces the deck completely.
  const Run again = run_xbar(s, {"netlist", "--rows", "3", "--cols", "2", "--quiet", "--out", "deck.cir"});
  REQUIRE_MESSAGE(again.status == 0, again.err);
  const std::string redone = read_all(s.work() / "deck.cir");
  CHECK(redone != previous);
  CHECK(redone.find(".end") != std::string::npos);
}

TEST_CASE("SIGKILL while solve writes a large voltages.npy leaves the previous outputs intact") {
  Scratch s;
  // A 128 x 128 array and 64 inputs: voltages.npy is 64 x 2 x 128 x 128 doubles = 16 MiB,
  // while the solve itself (one factorization, 64 substitutions) takes a fraction of a second.
  const int64_t m = 128, n = 128, k = 64;
  save(s.file("v.npy"), random_matrix(k, m, 0.05, 0.3, 2101));
  const std::vector<std::string> run = {"solve", "--rows", "128", "--cols", "128", "--v", "v.npy",
                                        "--save-voltages", "--batch-method", "direct", "--quiet"};
  auto with_out = [&](const std::string& out, const std::string& seed) {
    std::vector<std::string> a = run;
    a.insert(a.end(), {"--seed", seed, "--out", out});
    return a;
  };
  const Run first = run_xbar(s, with_out("o", "1"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  const fs::path o = s.work() / "o";
  const std::string prev_voltages = read_all(o / "voltages.npy");
  const std::string prev_currents = read_all(o / "currents.npy");
  const std::string prev_result = read_all(o / "result.json");
  REQUIRE(prev_voltages.size() == 128 + size_t(k * 2 * m * n) * sizeof(double));

  // The write of 16 MiB plus its fsync is a short window: try a few times until the kill
  // lands while the temporary exists (under a heavy load a run may slip through unobserved).
  constexpr int kAttempts = 8;
  KillResult hit;
  int attempts = 0;
  for (; attempts < kAttempts && !hit.killed_mid_write; ++attempts) {
    // A different seed: a completed run would change every output, so "intact" is meaningful.
    const KillResult r = kill_while_writing(s.work(), with_out("o", "2"), o, "voltages.npy", 1);
    if (r.killed_mid_write) {
      hit = r;
      break;
    }
    // It finished: restore the previous outputs for the next attempt.
    write_text(o / "voltages.npy", prev_voltages);
    write_text(o / "currents.npy", prev_currents);
    write_text(o / "result.json", prev_result);
  }
  INFO("attempts: " << attempts + 1);
  REQUIRE_MESSAGE(hit.killed_mid_write, "no attempt was killed while voltages.npy was being written");
  CHECK(WIFSIGNALED(hit.wait_status));
  // voltages.npy is the previous one, byte for byte, and still reads as a valid .npy.
  CHECK(read_all(o / "voltages.npy") == prev_voltages);
  const xbar::engine::io::NpyArray v = xbar::engine::io::read_npy((o / "voltages.npy").string());
  CHECK(v.shape == std::vector<int64_t>{k, 2, m, n});
  // The other outputs too: they are staged and replaced together at the end of a run
  // (StagedOutputs), so currents.npy, already written to its temporary, was not renamed.
  CHECK(read_all(o / "currents.npy") == prev_currents);
  CHECK(read_all(o / "result.json") == prev_result);
  check_only_outputs_and_named_temporaries(o, {"voltages.npy", "currents.npy", "result.json"});
  CHECK(!temporaries(o, "currents.npy").empty());  // staged before voltages.npy, never renamed
}
