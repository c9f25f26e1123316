// Shared by the NN command-line tests: trained models made once per test process (short runs
// on data subsets), predictions.npy read back, file bytes.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/io/npy.h"
#include "tests/engine/scratch_run.h"

namespace xbar::test {

// A directory that lives for the whole test process (models shared by several test cases).
inline const ScratchDir& process_dir() {
  static ScratchDir d;
  return d;
}

// Trains once per (args) and returns the model directory name inside process_dir().
inline std::string trained(const std::string& name, const std::string& args) {
  static std::map<std::string, std::string> done;
  if (done.count(name)) return done[name];
  std::string err;
  const int rc = run_xbar(process_dir(), "train " + args + " --quiet --out " + name, &err);
  INFO(err);
  REQUIRE(rc == 0);
  done[name] = name;
  return name;
}

// The short-trained MLP the evaluate and program tests share (one name, one set of arguments:
// trained() caches by name).
inline std::string trained_mlp() {
  return trained("mlp", "--model mlp --epochs 2 --batch-size 64 --train-subset 2000 --subset 100 --seed 2 --threads 1");
}

// predictions.npy of an evaluate run: name -> row.
inline std::map<std::string, std::vector<int>> predictions(const std::filesystem::path& dir) {
  const nlohmann::json j = load_json(dir / "accuracy.json");
  const auto a = xbar::engine::io::read_npy((dir / "predictions.npy").string());
  REQUIRE(a.shape.size() == 2);
  REQUIRE(size_t(a.shape[0]) == j["predictions"]["rows"].size());
  std::map<std::string, std::vector<int>> r;
  for (size_t k = 0; k < size_t(a.shape[0]); ++k) {
    std::vector<int> row(size_t(a.shape[1]));
    for (size_t i = 0; i < row.size(); ++i) row[i] = int(a.data[k * row.size() + i]);
    r[j["predictions"]["rows"][k].get<std::string>()] = row;
  }
  return r;
}

inline double accuracy_of(const std::vector<int>& pred, const std::vector<int>& labels) {
  int64_t c = 0;
  for (size_t i = 0; i < pred.size(); ++i) c += pred[i] == labels[i];
  return double(c) / double(pred.size());
}

inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace xbar::test
