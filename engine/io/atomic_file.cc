#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <streambuf>
#include <vector>

#include "support/input_error.h"

namespace xbar::engine::io {
namespace {

// Big enough that writing an .npy of a 1024x1024 array costs ~128 write() calls, small
// enough to be irrelevant next to the array itself.
constexpr std::size_t kBufferBytes = 1 << 16;

// How often to draw a new temporary name when one already exists (O_EXCL). A clash needs
// the same pid and the same 64 random bits, so a second attempt is already paranoia.
constexpr int kMaxTempNameAttempts = 8;

// --- temporaries removed on SIGINT, SIGTERM and SIGHUP ------------------------------------
// Ctrl-C or a scheduler's SIGTERM used to leave every temporary of the run behind (issue 17).
// Each live temporary is recorded in a fixed table that a signal handler can walk without
// allocating or locking (only async-signal-safe calls: unlink, signal, raise); the handler
// removes them and re-raises the signal with its default action, so the process still ends
// by that signal. The table is process-wide state because signal dispositions are: the one
// mutable static of this file, forced by the handler. The handlers are installed only where
// the signal still has its default action (an MPI runtime's or a caller's own handler stays),
// and only SIGKILL or a power cut can still leave a temporary (clearly named, see above).
// The states and the paths are separate zero-initialized arrays (no constructor runs at
// startup): a slot's 4 KiB path page is touched only when the slot is used. As one array of
// {atomic state, path} structs, its dynamic initializer wrote every slot's state at startup:
// 256 page faults and 1 MiB of resident memory in every xbar process (issue 21; no time
// measurable in a whole 64 x 64 `xbar solve`, bench/README.md).
constexpr int kMaxLiveTemporaries = 256;
constexpr std::size_t kMaxTemporaryPath = 4096;
std::atomic<int> g_slot_state[kMaxLiveTemporaries];  // 0 free, 1 being filled, 2 holds a path
char g_slot_path[kMaxLiveTemporaries][kMaxTemporaryPath];
std::once_flag g_handlers_installed;

void remove_temporaries_and_reraise(int sig) {
  for (int k = 0; k < kMaxLiveTemporaries; ++k)
    if (g_slot_state[k].load(std::memory_order_acquire) == 2) ::unlink(g_slot_path[k]);
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // delivered with the default action once this handler returns
}

void install_signal_handlers() {
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(sig, nullptr, &current) != 0) continue;
    if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) continue;
    struct sigaction handler {};
    handler.sa_handler = remove_temporaries_and_reraise;
    sigemptyset(&handler.sa_mask);
    ::sigaction(sig, &handler, nullptr);
  }
}

// Records a live temporary (a path too long for the table, or a full table, is left to
// SIGKILL's rule: a clearly named leftover).
void remember_temporary(const std::string& name) {
  std::call_once(g_handlers_installed, install_signal_handlers);
  if (name.size() >= kMaxTemporaryPath) return;
  for (int k = 0; k < kMaxLiveTemporaries; ++k) {
    int expected = 0;
    if (!g_slot_state[k].compare_exchange_strong(expected, 1, std::memory_order_acquire)) continue;
    std::memcpy(g_slot_path[k], name.c_str(), name.size() + 1);
    g_slot_state[k].store(2, std::memory_order_release);
    return;
  }
}

// The temporary is gone (renamed into place or removed): no longer the handler's to remove.
void forget_temporary(const std::string& name) {
  for (int k = 0; k < kMaxLiveTemporaries; ++k)
    if (g_slot_state[k].load(std::memory_order_acquire) == 2 && name == g_slot_path[k]) {
      g_slot_state[k].store(0, std::memory_order_release);
      return;
    }
}

[[noreturn]] void throw_write_error(const std::string& path, int error_number) {
  throw InputError("cannot write '" + path + "': " + std::strerror(error_number));
}

// A std::streambuf over a POSIX file descriptor. std::ofstream would hide the fd we need for
// fsync() and the errno of a failed write (e.g. ENOSPC), which the error message must name.
class FdStreambuf : public std::streambuf {
 public:
  explicit FdStreambuf(int fd) : fd_(fd), buffer_(kBufferBytes) {
    setp(buffer_.data(), buffer_.data() + buffer_.size());
  }

  // errno of the first failed write(), 0 if none failed.
  int saved_errno() const { return errno_; }

 protected:
  int_type overflow(int_type ch) override {
    if (!flush_buffer()) return traits_type::eof();
    if (!traits_type::eq_int_type(ch, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(ch);
      pbump(1);
    }
    return traits_type::not_eof(ch);
  }

  int sync() override { return flush_buffer() ? 0 : -1; }

  // Large blocks (array data) go straight to write() instead of through the buffer.
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    if (static_cast<std::size_t>(n) < buffer_.size()) return std::streambuf::xsputn(s, n);
    if (!flush_buffer() || !write_all(s, static_cast<std::size_t>(n))) return 0;
    return n;
  }

 private:
  bool flush_buffer() {
    const bool ok = write_all(pbase(), static_cast<std::size_t>(pptr() - pbase()));
    setp(buffer_.data(), buffer_.data() + buffer_.size());
    return ok;
  }

  bool write_all(const char* s, std::size_t n) {
    if (errno_ != 0) return false;
    while (n > 0) {
      const ssize_t written = ::write(fd_, s, n);
      if (written < 0) {
        if (errno == EINTR) continue;
        errno_ = errno;
        return false;
      }
      s += written;
      n -= static_cast<std::size_t>(written);
    }
    return true;
  }

  int fd_;
  std::vector<char> buffer_;
  int errno_ = 0;
};

// Owns the temporary: closes the fd and unlinks the file unless released after the rename.
class TempFile {
 public:
  TempFile(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!name_.empty()) {
      ::unlink(name_.c_str());
      forget_temporary(name_);
    }
  }

  int fd() const { return fd_; }
  const std::string& name() const { return name_; }

  // Closes the fd, reporting close()'s errno (NFS reports deferred write errors there).
  int close_fd() {
    const int result = ::close(fd_);
    fd_ = -1;
    return result == 0 ? 0 : errno;
  }
  // The file now lives under its final name: nothing left to remove.
  void release() { name_.clear(); }

 private:
  std::string name_;
  int fd_;
};

std::string random_hex_suffix(std::random_device& device) {
  const std::uint64_t bits = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

// Creates a fresh temporary next to `path`; O_EXCL so we never write into someone's file.
TempFile create_temp_file(const std::string& path) {
  std::random_device device;
  int last_errno = EEXIST;
  for (int attempt = 0; attempt < kMaxTempNameAttempts; ++attempt) {
    std::string name =
        path + ".tmp." + std::to_string(::getpid()) + "." + random_hex_suffix(device);
    const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      remember_temporary(name);
      return TempFile(std::move(name), fd);
    }
    last_errno = errno;
    if (last_errno != EEXIST) break;
  }
  throw_write_error(path, last_errno);
}

}  // namespace

namespace {

// Writes `writer`'s bytes to a fresh temporary next to `path`, flushed, fsynced and closed;
// returns the temporary's name. On any failure the temporary is removed.
std::string write_temporary(const std::string& path,
                            const std::function<void(std::ostream&)>& writer) {
  if (path.empty()) throw InputError("cannot write '': the output file name is empty");
  TempFile temp = create_temp_file(path);
  {
    FdStreambuf buffer(temp.fd());
    std::ostream out(&buffer);
    writer(out);  // may throw: ~TempFile removes the temporary, the exception propagates
    out.flush();
    if (!out) {
      if (buffer.saved_errno() != 0) throw_write_error(path, buffer.saved_errno());
      throw InputError("cannot write '" + path + "': the output stream failed");
    }
  }
  // Without fsync a crash after rename() may leave a zero-length file under the final name
  // (ext4 delayed allocation): exactly the truncated result this function exists to avoid.
  if (::fsync(temp.fd()) != 0) throw_write_error(path, errno);
  if (const int close_errno = temp.close_fd(); close_errno != 0) {
    throw_write_error(path, close_errno);
  }
  std::string name = temp.name();
  temp.release();
  return name;
}

// rename(temp, path), removing the temporary if that fails.
void rename_into_place(const std::string& temp, const std::string& path) {
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temp.c_str());
    forget_temporary(temp);
    throw_write_error(path, rename_errno);
  }
  forget_temporary(temp);
}

}  // namespace

void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& writer) {
  rename_into_place(write_temporary(path, writer), path);
}

StagedOutputs::~StagedOutputs() {
  for (const Staged& s : staged_) {
    if (s.temp.empty()) continue;
    ::unlink(s.temp.c_str());
    forget_temporary(s.temp);
  }
}

void StagedOutputs::write(const std::string& path,
                          const std::function<void(std::ostream&)>& writer) {
  staged_.push_back({write_temporary(path, writer), path});
}

void StagedOutputs::remove(const std::string& path) { staged_.push_back({"", path}); }

void StagedOutputs::commit() {
  // Every final name is checked before the first rename: a rename that fails half-way would
  // leave new files next to old ones (issue 17: result.json a directory, currents.npy already
  // replaced). What rename() and unlink() refuse for a writable directory is a directory in
  // the way; a non-directory is replaced or removed.
  for (const Staged& s : staged_) require_output_file_path(s.path);
  for (Staged& s : staged_) {
    if (s.temp.empty()) {
      if (::unlink(s.path.c_str()) != 0 && errno != ENOENT) {
        throw InputError("cannot remove '" + s.path + "': " + std::strerror(errno));
      }
      continue;
    }
    const std::string temp = std::move(s.temp);
    s.temp.clear();  // from here on rename_into_place owns it (removes it on failure)
    rename_into_place(temp, s.path);
  }
  staged_.clear();
}

void require_output_file_path(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
    throw InputError("cannot write '" + path + "': it is a directory (nothing of this run was written)");
}

void ensure_directory(const std::string& dir) {
  const std::string prefix_message = "cannot create output directory '" + dir + "': ";
  if (dir.empty()) throw InputError(prefix_message + "the directory name is empty");

  // Walk the prefixes "a", "a/b", "a/b/c" so the message can name the component at fault.
  std::size_t end = 0;
  while (end != std::string::npos) {
    end = dir.find('/', end + 1);
    const std::string prefix = dir.substr(0, end);
    if (prefix.empty() || prefix.back() == '/') continue;  // leading "/" or "a//b"

    struct stat info {};
    if (::stat(prefix.c_str(), &info) == 0) {
      if (S_ISDIR(info.st_mode)) continue;
      if (prefix == dir || prefix + "/" == dir) {
        throw InputError(prefix_message + "it exists and is not a directory");
      }
      throw InputError(prefix_message + "'" + prefix + "' exists and is not a directory");
    }
    if (::mkdir(prefix.c_str(), 0777) == 0) continue;
    const int mkdir_errno = errno;
    // Another process (a parallel sweep point) may have created it between stat and mkdir.
    if (mkdir_errno == EEXIST && ::stat(prefix.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
      continue;
    }
    throw InputError(prefix_message + std::strerror(mkdir_errno));
  }
}

}  // namespace xbar::engine::io
