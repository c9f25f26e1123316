#include "engine/sweep/sweep_runner.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "support/input_error.h"
#include "support/text.h"
#include "engine/io/atomic_file.h"
#include "engine/sweep/sweep_commands.h"
#include "engine/sweep/sweep_dir.h"
#include "engine/sweep/sweep_mpi.h"
#include "engine/sweep/sweep_progress.h"
#include "engine/sweep/sweep_record.h"
#include "solvers/library_threads.h"
#include "xbar_version.h"

namespace xbar::engine::sweep {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

using namespace internal;  // sweep_dir.h: DirLock, Plan, prepare_dir, attempts, read_text

// The master thread checks for worker requests this often (it sleeps in between, so an idle
// master costs no core; a worker waits at most this long for its next point).
constexpr auto kMasterPoll = std::chrono::milliseconds(2);
// Without MPI the master thread wakes this often to redraw the progress bar.
constexpr auto kBarTick = std::chrono::milliseconds(500);
// sweep.csv is rewritten after a point unless the last rewrite took more than 1/kCsvBudget of
// the time since: a sweep of many quick points then spends at most ~1/kCsvBudget of its time
// rewriting the table (the point.json records are written every time; the final table always).
constexpr double kCsvBudget = 5;
// Checking a large grid shows its progress after this long, then this often.
constexpr auto kCheckQuietFor = std::chrono::seconds(2);
constexpr auto kCheckEvery = std::chrono::seconds(5);
// What a point runs: enough for any rank to run it without the INI.
struct Task {
  SweepPoint point;
  std::string command, dir, fingerprint;

  json to_json() const {
    json keys = json::array(), swept = json::array();
    for (const auto& k : point.keys) keys.push_back({k.key, k.value, k.where});
    for (const auto& k : point.swept) swept.push_back({k.key, k.value, k.where});
    return {{"index", point.index}, {"id", point.id}, {"seed", point.seed}, {"keys", keys}, {"swept", swept},
            {"command", command}, {"dir", dir}, {"fingerprint", fingerprint}};
  }
  static Task from_json(const json& j) {
    Task t;
    t.point.index = j.at("index");
    t.point.id = j.at("id");
    t.point.seed = j.at("seed");
    for (const auto& k : j.at("keys")) t.point.keys.push_back({k[0], k[1], k[2]});
    for (const auto& k : j.at("swept")) t.point.swept.push_back({k[0], k[1], k[2]});
    t.command = j.at("command");
    t.dir = j.at("dir");
    t.fingerprint = j.at("fingerprint");
    return t;
  }
};

std::vector<PointKey> run_keys(const SweepPoint& p, const std::string& dir) {
  std::vector<PointKey> keys = p.keys;
  keys.push_back({"out", dir, "xbar sweep (DIR/points/ID)"});
  keys.push_back({"quiet", "true", "xbar sweep"});
  return keys;
}

std::string exit_meaning(int code) {
  switch (code) {
    case 2: return "bad input";
    case 3: return "check: a difference above --tol";
    case 4: return "numerical failure";
    default: return "error";
  }
}

// A point's record before it runs: what the task says about it, and this version.
PointRecord record_of(const Task& t) {
  PointRecord r;
  r.index = t.point.index;
  r.id = t.point.id;
  r.command = t.command;
  r.keys = t.point.keys;
  r.swept = t.point.swept;
  r.seed = t.point.seed;
  r.fingerprint = t.fingerprint;
  r.version = XBAR_VERSION;
  return r;
}

// Runs one point in this process and reads its metrics. Never throws for a failing point:
// whatever the subcommand throws is the row's error.
PointRecord run_task(const Task& t, const SweepHooks& hooks, int rank, const std::string& host, int threads) {
  PointRecord r = record_of(t);
  r.rank = rank;
  r.host = host;
  r.threads = threads;
  r.started_utc = utc_now();
  const auto t0 = Clock::now();
  const SweepCommand& cmd = *find_sweep_command(t.command);
  try {
    // A clean directory: what an earlier, killed attempt left must not pass for this run's.
    std::error_code ec;
    fs::remove_all(t.dir, ec);
    io::ensure_directory(t.dir);
    r.exit_code = hooks.run(t.command, run_keys(t.point, t.dir), false);
    if (r.exit_code != 0) r.error = "exit code " + std::to_string(r.exit_code) + " (" + exit_meaning(r.exit_code) + ")";
  } catch (const InputError& e) {
    r.exit_code = 2;
    r.error = e.what();
  } catch (const NumericalError& e) {
    r.exit_code = 4;
    r.error = std::string("numerical failure: ") + e.what();
  } catch (const std::bad_alloc&) {
    r.exit_code = 1;
    r.error = "out of memory";
  } catch (const std::exception& e) {
    r.exit_code = 1;
    r.error = std::string("internal error: ") + e.what();
  }
  const std::string result = t.dir + "/" + cmd.result_file;
  if (fs::exists(result)) {
    try {
      r.metrics = extract_metrics(cmd, json::parse(read_text(result)));
    } catch (const std::exception& e) {
      r.metrics = extract_metrics(cmd, json::object());
      if (r.exit_code == 0) r.exit_code = 1;
      r.error += std::string(r.error.empty() ? "" : "; ") + "cannot read " + result + ": " + e.what();
    }
  } else {
    r.metrics = extract_metrics(cmd, json::object());
    if (r.exit_code == 0) {
      r.exit_code = 1;
      r.error = t.command + " wrote no " + cmd.result_file;
    }
  }
  r.time_s = std::chrono::duration<double>(Clock::now() - t0).count();
  r.finished_utc = utc_now();
  return r;
}

// The record of a point that is not run again because its process died kMaxAttempts times.
PointRecord run_task_never(const Task& t, int attempts) {
  PointRecord r = record_of(t);
  r.exit_code = 1;
  r.error = "the process running this point died " + std::to_string(attempts) +
            " times before it finished (a crash, the out-of-memory killer or SIGKILL); not started again "
            "(--retry-failed does)";
  r.metrics = extract_metrics(*find_sweep_command(t.command), json::object());
  r.started_utc = r.finished_utc = utc_now();
  return r;
}

// Rows, the CSV and the progress, on the master thread only.
class Collector {
 public:
  Collector(std::string dir, std::vector<std::string> columns, int64_t points, SweepProgress* progress)
      : dir_(std::move(dir)), columns_(std::move(columns)), records_(size_t(points)), progress_(progress) {}

  void load(PointRecord r) { records_[size_t(r.index)] = std::move(r); }

  void record(PointRecord r) {
    const std::string pdir = dir_ + "/points/" + r.id;
    io::ensure_directory(pdir);
    io::write_file_atomically(pdir + "/point.json", [&](std::ostream& os) { os << r.to_json().dump(2) << "\n"; });
    if (progress_) progress_->point_done(r);
    records_[size_t(r.index)] = std::move(r);
    const double since = std::chrono::duration<double>(Clock::now() - last_csv_).count();
    if (since >= kCsvBudget * last_csv_s_) write_csv();
  }

  void write_csv() {
    const auto t0 = Clock::now();
    std::vector<const PointRecord*> rows;
    for (const auto& r : records_)
      if (r) rows.push_back(&*r);
    io::write_file_atomically(dir_ + "/sweep.csv", [&](std::ostream& os) { write_sweep_csv(os, columns_, rows); });
    last_csv_ = Clock::now();
    last_csv_s_ = std::chrono::duration<double>(last_csv_ - t0).count();
  }

  int64_t failed() const {
    int64_t n = 0;
    for (const auto& r : records_) n += r && !r->ok();
    return n;
  }
  int64_t done() const {
    int64_t n = 0;
    for (const auto& r : records_) n += bool(r);
    return n;
  }

 private:
  std::string dir_;
  std::vector<std::string> columns_;
  std::vector<std::optional<PointRecord>> records_;
  SweepProgress* progress_;
  Clock::time_point last_csv_ = Clock::now();
  double last_csv_s_ = 0;
};

// "S.ini:LINE" of the key a subcommand's message blames ("key r-row = -1: ...", "keys g-on, ...",
// "(key g)", "--g 'x.npy'"), or of the key whose value the message quotes first (a file name);
// the INI itself when neither is found.
std::string blamed_line(const SweepPoint& p, const std::string& msg, const std::string& path) {
  for (const PointKey& k : p.keys)
    if (message_names_key(msg, k.key) && k.where.rfind(path + ":", 0) == 0) return k.where;
  for (const PointKey& k : p.keys)
    if (k.value.size() > 2 && msg.find(k.value) != std::string::npos && k.where.rfind(path + ":", 0) == 0)
      return k.where;
  return path;
}

SweepDefinition read_and_check(const SweepOptions& o, const SweepHooks& hooks) {
  SweepDefinition def = read_sweep_ini(o.config_path, hooks.check_key);
  // Every point parsed as its subcommand would parse it, before anything runs or is written.
  // That costs ~0.1 ms a point, so a grid of 10^6 points (kMaxPoints) takes a few minutes:
  // past kCheckQuietFor the progress is shown (issue 17: 30 s of silence).
  const std::string placeholder = o.out_dir + "/points/ID";
  const auto t0 = Clock::now();
  auto last_shown = t0;
  for (int64_t i = 0; i < def.points(); ++i) {
    const auto now = Clock::now();
    if (!o.quiet && now - t0 > kCheckQuietFor && now - last_shown > kCheckEvery) {
      last_shown = now;
      std::cerr << "xbar sweep: checked " << i << " of " << def.points()
                << " points (each as its subcommand would, before any runs)" << std::endl;
    }
    const SweepPoint p = def.point(i);
    try {
      hooks.run(def.command, run_keys(p, placeholder), true);
    } catch (const InputError& e) {
      const std::string msg = e.what();
      if (msg.rfind(def.path + ":", 0) == 0) throw;
      std::string keys;
      for (const auto& k : p.swept) keys += (keys.empty() ? "" : ", ") + k.key + " = " + k.value;
      throw InputError(blamed_line(p, msg, def.path) + ": point " + p.id + (keys.empty() ? "" : " (" + keys + ")") +
                       ": " + msg);
    }
  }
  return def;
}

void print_points(const SweepDefinition& def, std::ostream& os) {
  os << "id,seed";
  for (const auto& k : def.swept_keys()) os << "," << csv_field(k);
  os << "\n";
  for (int64_t i = 0; i < def.points(); ++i) {
    const SweepPoint p = def.point(i);
    os << p.id << "," << p.seed;
    for (const auto& k : p.swept) os << "," << csv_field(k.value);
    os << "\n";
  }
}

// Warns (once, rank 0) when the ranks on this node times the threads of each exceed its cores.
void warn_oversubscription(int threads, const mpi::World* w, bool quiet) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int ranks = w ? w->local_size : 1;
  if (!quiet && ranks * threads > cores)
    std::cerr << "xbar sweep: warning: " << ranks << " rank(s) x sweep-threads " << threads << " on a node of "
              << cores << " cores: the ranks will compete for cores (results are unchanged)\n";
}

// Rank 0 (or the only process): runs points on a second thread, serves worker requests, writes.
int master(const SweepOptions& o, const SweepHooks& hooks, const mpi::World* world) {
  std::unique_ptr<DirLock> lock;
  const int ranks = world ? world->size : 1;
  Plan plan;
  try {
    SweepDefinition def = read_and_check(o, hooks);
    if (o.dry_run) {
      if (world) mpi::broadcast_start(json{{"stop", true}}.dump());
      print_points(def, std::cout);
      return 0;
    }
    io::ensure_directory(o.out_dir);
    lock = std::make_unique<DirLock>(o.out_dir);
    plan = prepare_dir(o, std::move(def), ranks);
  } catch (...) {
    if (world) mpi::broadcast_start("");
    throw;
  }
  const int threads = plan.def.threads;
  warn_oversubscription(threads, world, o.quiet);
  const std::string host = world ? world->host : "";
  const int64_t to_run = int64_t(plan.pending.size() + plan.given_up.size()), done_before = int64_t(plan.done.size());
  auto progress = std::make_unique<SweepProgress>(to_run, done_before, SweepProgress::detect(o.quiet), std::cerr);
  auto collector = std::make_unique<Collector>(o.out_dir, plan.columns, plan.def.points(), progress.get());
  for (auto& r : plan.done) collector->load(std::move(r));
  collector->write_csv();  // a row whose point.json was written just before a kill
  if (world) mpi::broadcast_start(json{{"threads", threads}}.dump());
  progress->start(std::to_string(plan.def.points()) + " points of `" + plan.def.command + "` from " + o.config_path +
                  " into " + o.out_dir + ": " + std::to_string(done_before) + " done before, " +
                  std::to_string(to_run) + " to run" +
                  (world ? " on " + std::to_string(ranks) + " MPI ranks" : "") +
                  ", " + std::to_string(threads) + " thread(s) per point");

  std::mutex mu;
  std::condition_variable cv;
  std::deque<int64_t> pending(plan.pending.begin(), plan.pending.end());
  std::deque<PointRecord> local_done;
  bool local_exit = false;
  std::exception_ptr local_error;
  auto task_of = [&](int64_t i) {
    return Task{plan.def.point(i), plan.def.command, o.out_dir + "/points/" + plan.def.id(i), plan.fingerprint};
  };
  // Points that took their process down kMaxAttempts times: failed rows, not run again.
  for (const int64_t i : plan.given_up) {
    PointRecord r = run_task_never(task_of(i), read_attempts(o.out_dir, plan.def.id(i)));
    collector->record(std::move(r));
  }
  io::ensure_directory(o.out_dir + "/attempts");
  auto pop = [&]() -> std::optional<int64_t> {
    std::lock_guard<std::mutex> g(mu);
    if (pending.empty()) return std::nullopt;
    const int64_t i = pending.front();
    pending.pop_front();
    const std::string id = plan.def.id(i);
    const int n = read_attempts(o.out_dir, id) + 1;
    io::write_file_atomically(attempts_path(o.out_dir, id), [&](std::ostream& os) { os << n << "\n"; });
    return i;
  };
  std::thread local([&] {
    try {
      limit_threads(threads);
      while (const auto i = pop()) {
        PointRecord r = run_task(task_of(*i), hooks, 0, host, threads);
        std::lock_guard<std::mutex> g(mu);
        local_done.push_back(std::move(r));
        cv.notify_one();
      }
    } catch (...) {
      local_error = std::current_exception();
    }
    std::lock_guard<std::mutex> g(mu);
    local_exit = true;
    cv.notify_one();
  });

  int active = world ? world->size - 1 : 0;
  try {
    for (;;) {
      std::deque<PointRecord> got;
      bool exited = false;
      {
        std::unique_lock<std::mutex> lk(mu);
        cv.wait_for(lk, world ? std::chrono::duration_cast<std::chrono::milliseconds>(kMasterPoll) : kBarTick,
                    [&] { return !local_done.empty() || (local_exit && !world); });
        got.swap(local_done);
        exited = local_exit;
      }
      for (auto& r : got) collector->record(std::move(r));
      if (world) {
        mpi::Request q;
        while (mpi::poll_request(q)) {
          // Answer first (the worker waits), then record its previous result.
          const auto i = pop();
          mpi::send_task(q.source, i ? task_of(*i).to_json().dump() : "");
          if (!i) --active;
          if (!q.payload.empty()) collector->record(PointRecord::from_json(json::parse(q.payload)));
        }
      }
      progress->tick();
      if (exited && got.empty() && active == 0) {
        std::lock_guard<std::mutex> g(mu);
        if (local_done.empty()) break;
      }
    }
    local.join();
    if (local_error) std::rethrow_exception(local_error);
    collector->write_csv();
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> g(mu);
      pending.clear();
    }
    if (local.joinable()) local.join();
    if (world) {
      std::cerr << "xbar sweep: error: " << e.what() << " (aborting every rank; re-run the same command to resume)\n";
      mpi::abort(1);
    }
    throw;
  }
  if (world) mpi::send_end(world->size);
  progress->finish();
  const int64_t failed = collector->failed();
  close_run(o.out_dir, to_run, progress->failed());
  if (!o.quiet)
    std::cout << "sweep of " << plan.def.points() << " points (" << plan.def.command << "): " << to_run << " run now"
              << (progress->failed() ? " (" + std::to_string(progress->failed()) + " failed)" : "") << ", "
              << done_before << " done before; " << failed << " failed in all; wrote " << o.out_dir
              << "/sweep.csv\n";
  return failed ? kExitPointsFailed : 0;
}

int worker(const SweepHooks& hooks, const mpi::World& w) {
  const std::string session = mpi::receive_start();
  if (session.empty()) return 2;  // the master found the sweep INI bad and says why
  if (json::parse(session).value("stop", false)) return 0;  // --dry-run
  const int threads = json::parse(session).at("threads").get<int>();
  limit_threads(threads);
  std::string result;
  for (;;) {
    const std::string task = mpi::request_task(result);
    if (task.empty()) break;
    result = run_task(Task::from_json(json::parse(task)), hooks, w.rank, w.host, threads).to_json().dump();
  }
  mpi::wait_for_end();
  return 0;
}

}  // namespace

void SweepOptions::validate() const {
  if (config_path.empty()) throw InputError("key config: xbar sweep needs --config SWEEP.ini");
  if (out_dir.empty()) throw InputError("key out: xbar sweep needs --out DIR");
}

int limit_threads(int n) {
  if (n <= 0) return n;
  omp_set_num_threads(n);
  // OpenBLAS (CHOLMOD's BLAS) has its own pool (left stopped at 1 thread: library_threads.h).
  solvers::set_blas_threads(n);
  return n;
}

int run_sweep(const SweepOptions& o, const SweepHooks& hooks) {
  o.validate();
  // Open MPI is loaded only here, under a launcher (mpi::available() opens the module).
  const bool use_mpi = mpi::launched() && mpi::available();
  if (mpi::launched() && !use_mpi && mpi::launched_size() != 1) {
    // Every rank would run the whole sweep into the same DIR.
    if (mpi::launched_rank() != 0) return 2;
    throw InputError("started by mpirun as one of " + std::to_string(mpi::launched_size()) + " ranks, but " +
                     mpi::unavailable_reason() + "; run it as one process");
  }
  if (!use_mpi) return master(o, hooks, nullptr);
  const mpi::World w = mpi::init();
  int code = 0;
  try {
    code = w.rank == 0 ? master(o, hooks, &w) : worker(hooks, w);
  } catch (...) {
    mpi::finalize();
    throw;
  }
  mpi::finalize();
  return code;
}

}  // namespace xbar::engine::sweep
