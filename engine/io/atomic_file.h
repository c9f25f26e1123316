// Atomic file output: a reader sees either the previous file or the complete new one.
//
// Usage:
//   xbar::engine::io::ensure_directory(out_dir);
//   xbar::engine::io::write_file_atomically(out_dir + "/result.json",
//                                       [&](std::ostream& os) { os << json.dump(2); });
//
// Contract:
//   - The writer streams into `<path>.tmp.<pid>.<random>` in the same directory (rename() is
//     atomic only within one file system, so the temporary must live next to the target).
//   - After the writer returns, the stream is flushed and its state checked, the file is
//     fsync()ed and renamed onto `path`. A nightly sweep killed mid-write, or a full disk,
//     therefore never leaves a truncated `currents.npy` that a later script would read.
//   - On any OS failure the temporary is removed and xbar::InputError is thrown naming `path`
//     and strerror(errno): "cannot write 'out/x.npy': No such file or directory".
//   - If the writer itself throws, the temporary is removed and that exception propagates
//     unchanged (it already says what went wrong); a previous file under `path` is untouched.
//   - Only a crash of the process itself (SIGKILL, power loss before fsync) can leave a
//     `<path>.tmp.*` file behind; never a partial file under `path`.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace xbar::engine::io {

// Writes the bytes produced by `writer` to `path` atomically (see the contract above).
// Throws xbar::InputError on OS failures; rethrows whatever `writer` throws.
void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& writer);

// The outputs of one run, replacing the previous run's together (issue 9). Each file is
// written to its temporary (as above, fsynced) when the run produces it; commit() renames
// them onto their final names in the order they were staged (result.json last, by
// convention) and carries out staged removals. A run that throws or is killed before
// commit() leaves every previous output untouched: the destructor removes the temporaries of
// an uncommitted set (a SIGKILL leaves them, clearly named). Only a kill during commit()
// itself, a few rename() calls, can leave a mix of old and new files.
//
//   StagedOutputs outputs;
//   write_npy(outputs, dir + "currents.npy", currents.data(), {n});   // engine/io/npy.h
//   outputs.remove(dir + "voltages.npy");                             // stale from a run before
//   outputs.write(dir + "result.json", [&](std::ostream& os) { os << json; });
//   outputs.commit();
class StagedOutputs {
 public:
  StagedOutputs() = default;
  StagedOutputs(const StagedOutputs&) = delete;
  StagedOutputs& operator=(const StagedOutputs&) = delete;
  ~StagedOutputs();

  // Writes the file to its temporary now; errors as write_file_atomically.
  void write(const std::string& path, const std::function<void(std::ostream&)>& writer);
  // Removes `path` (if it exists) at commit().
  void remove(const std::string& path);
  // Renames every staged file onto its final name, in order; InputError naming the path if a
  // rename or removal fails (the temporaries not yet renamed are removed).
  void commit();

 private:
  struct Staged {
    std::string temp;  // empty for a removal
    std::string path;
  };
  std::vector<Staged> staged_;
};

// Creates `dir` and any missing parents (like `mkdir -p`); an existing directory is fine.
// Throws xbar::InputError naming `dir`, e.g.
//   "cannot create output directory 'out/run1': Permission denied", or
//   "cannot create output directory 'out/run1': 'out' exists and is not a directory".
void ensure_directory(const std::string& dir);

}  // namespace xbar::engine::io
