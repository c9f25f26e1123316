// Atomic file output: a reader sees either the previous file or the complete new one.
//
// Usage:
//   xbar::engine::ensure_directory(out_dir);
//   xbar::engine::write_file_atomically(out_dir + "/result.json",
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

namespace xbar::engine {

// Writes the bytes produced by `writer` to `path` atomically (see the contract above).
// Throws xbar::InputError on OS failures; rethrows whatever `writer` throws.
void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& writer);

// Creates `dir` and any missing parents (like `mkdir -p`); an existing directory is fine.
// Throws xbar::InputError naming `dir`, e.g.
//   "cannot create output directory 'out/run1': Permission denied", or
//   "cannot create output directory 'out/run1': 'out' exists and is not a directory".
void ensure_directory(const std::string& dir);

}  // namespace xbar::engine
