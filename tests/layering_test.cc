// The dependency table of ARCHITECTURE.md, checked on the sources: every `#include "..."` of a
// folder (engine/: of a room) names its own folder or one it may use, so dependencies point
// down and never up; and the heavy or optional libraries stay in the few files the build
// gives them (Boost.Program_options in engine/cli/, MPI in the sweep's MPI file, libtorch in
// the module's two translation units, libngspice in its back end).
//
// The referee is the table below, copied from ARCHITECTURE.md; a new folder or room needs a
// row in both (the last test case fails until it has one).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#ifndef XBAR_SOURCE_DIR
#error "XBAR_SOURCE_DIR (the repository top) must be defined by the build"
#endif

namespace {

namespace fs = std::filesystem;

// Folder -> the folders its files may include besides their own (ARCHITECTURE.md, "Rooms").
const std::map<std::string, std::set<std::string>>& may_include() {
  static const std::map<std::string, std::set<std::string>> table = {
      {"support", {}},
      {"devices", {"support"}},
      {"netlists", {"devices", "support"}},
      {"solvers", {"netlists", "devices", "support"}},
      {"calib", {"solvers", "netlists", "devices", "support"}},
      {"engine/io", {"support"}},
      {"engine/nn", {"engine/io", "calib", "solvers", "netlists", "devices", "support"}},
      {"engine/sweep", {"engine/io", "calib", "solvers", "netlists", "devices", "support"}},
      {"engine/commands", {"engine/nn", "engine/io", "calib", "solvers", "netlists", "devices", "support"}},
      {"engine/cli",
       {"engine/commands", "engine/sweep", "engine/nn", "engine/io", "calib", "solvers", "netlists", "devices",
        "support"}},
      // The Python package's extension: the CLI's key tables (one source of truth for names,
      // defaults and messages) and the engine below them.
      {"python",
       {"engine/cli", "engine/commands", "engine/sweep", "engine/nn", "engine/io", "calib", "solvers", "netlists",
        "devices", "support"}},
  };
  return table;
}

// The folder (engine/: the room) a repository path belongs to; "" for anything else.
std::string folder_of(const std::string& path) {
  const auto slash = path.find('/');
  if (slash == std::string::npos) return "";
  const std::string top = path.substr(0, slash);
  if (top != "engine") return top;
  const auto second = path.find('/', slash + 1);
  return second == std::string::npos ? "" : path.substr(0, second);
}

struct Source {
  std::string path;                   // relative to the repository top
  std::vector<std::string> includes;  // as written between the quotes or brackets
};

// Every .h and .cc under the folders of the table, with its #include lines.
std::vector<Source> sources() {
  static const std::regex include_line(R"(^\s*#\s*include\s*["<]([^">]+)[">])");
  const fs::path top(XBAR_SOURCE_DIR);
  std::vector<Source> all;
  for (const char* folder : {"support", "devices", "netlists", "solvers", "calib", "engine", "python"}) {
    if (!fs::exists(top / folder)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(top / folder)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      Source s{fs::relative(entry.path(), top).generic_string(), {}};
      std::ifstream in(entry.path());
      std::string line;
      std::smatch m;
      while (std::getline(in, line))
        if (std::regex_search(line, m, include_line)) s.includes.push_back(m[1]);
      all.push_back(std::move(s));
    }
  }
  return all;
}

// The files that include `header_prefix` (a system header or a project header path).
std::set<std::string> files_including(const std::vector<Source>& all, const std::string& header_prefix) {
  std::set<std::string> files;
  for (const Source& s : all)
    for (const std::string& inc : s.includes)
      if (inc.rfind(header_prefix, 0) == 0) files.insert(s.path);
  return files;
}

}  // namespace

TEST_CASE("every project #include points to the file's own folder or one below it in ARCHITECTURE.md") {
  const std::vector<Source> all = sources();
  REQUIRE(all.size() > 50);  // the walk found the tree
  int checked = 0;
  for (const Source& s : all) {
    const std::string from = folder_of(s.path);
    REQUIRE_MESSAGE(may_include().count(from), s.path << " is in no folder of the table");
    for (const std::string& inc : s.includes) {
      const std::string to = folder_of(inc);
      if (!may_include().count(to)) continue;  // system, third-party or generated headers
      ++checked;
      CHECK_MESSAGE((to == from || may_include().at(from).count(to)),
                    s.path << " includes " << inc << ": " << from << " may not use " << to
                           << " (dependencies point down; ARCHITECTURE.md)");
    }
  }
  CHECK(checked > 100);
}

TEST_CASE("Boost.Program_options, MPI, libtorch and libngspice stay in the files the build gives them") {
  const std::vector<Source> all = sources();
  for (const std::string& f : files_including(all, "boost/program_options"))
    CHECK_MESSAGE(folder_of(f) == "engine/cli", f << " includes Boost.Program_options outside engine/cli/");
  CHECK(files_including(all, "mpi.h") == std::set<std::string>{"engine/sweep/sweep_mpi.cc"});
  // libtorch: the header that includes it and the module's three translation units
  // (CMakeLists.txt, XBAR_TORCH_SRC); nothing else may see torch headers.
  std::set<std::string> torch = files_including(all, "torch/");
  for (const std::string& f : files_including(all, "engine/nn/nn_torch.h")) torch.insert(f);
  CHECK(torch == std::set<std::string>{"engine/nn/nn_torch.h", "engine/nn/nn_model.cc", "engine/nn/train.cc",
                                       "engine/nn/torchscript_model.cc"});
  CHECK(files_including(all, "ngspice/") == std::set<std::string>{"solvers/ngspice_backend.cc"});
  CHECK(files_including(all, "pybind11/") == std::set<std::string>{"python/xbar_module.cc"});
}

TEST_CASE("every source folder and engine room has a row in the dependency table") {
  const fs::path top(XBAR_SOURCE_DIR);
  std::set<std::string> folders;
  for (const char* folder : {"support", "devices", "netlists", "solvers", "calib", "python"})
    if (fs::exists(top / folder)) folders.insert(folder);
  for (const auto& entry : fs::directory_iterator(top / "engine")) {
    CHECK_MESSAGE(entry.is_directory(), "engine/ holds rooms only, found the file " << entry.path().filename());
    if (entry.is_directory()) folders.insert("engine/" + entry.path().filename().string());
  }
  for (const std::string& f : folders) CHECK_MESSAGE(may_include().count(f), f << " has no row in the table");
  for (const auto& [f, uses] : may_include()) CHECK_MESSAGE(folders.count(f), f << " is in the table but not in the tree");
}
