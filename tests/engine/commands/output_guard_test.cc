// Results never hold NaN or infinities (issue 9): the writers of result files refuse them as
// a numerical failure naming the file and the place, before any byte is written, so the
// previous result stays as it was. (.npy: write_npy, tested in npy_test.cc.)
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/input_error.h"
#include "engine/io/atomic_file.h"
#include "engine/commands/command_support.h"
#include "tests/engine/cli_harness.h"

namespace fs = std::filesystem;
using nlohmann::json;
using xbar::cli_test::read_all;
using xbar::cli_test::Scratch;
using xbar::cli_test::write_text;

TEST_CASE("write_json refuses a NaN or infinity anywhere, naming its JSON pointer") {
  Scratch s;
  const std::string path = s.file("result.json");
  write_text(path, "previous\n");
  json j = {{"solve", {{"residual", 1e-12}, {"history", {0.5, 0.25, std::nan("")}}}}, {"ok", true}};
  CHECK_THROWS_WITH_AS(xbar::engine::commands::detail::write_json(path, j),
                       doctest::Contains(("refusing to write '" + path + "': /solve/history/2 is nan").c_str()),
                       xbar::NumericalError);
  j["solve"]["history"][2] = 0.125;
  j["ir_drop"] = {{"max_error_rel_full_scale", -std::numeric_limits<double>::infinity()}};
  xbar::engine::io::StagedOutputs outputs;
  CHECK_THROWS_WITH_AS(xbar::engine::commands::detail::write_json(outputs, path, j),
                       doctest::Contains("/ir_drop/max_error_rel_full_scale is -inf"), xbar::NumericalError);
  CHECK(read_all(path) == "previous\n");
  // Finite numbers, integers, strings, booleans and null are written as they are.
  j["ir_drop"]["max_error_rel_full_scale"] = 0.5;
  j["note"] = nullptr;
  xbar::engine::commands::detail::write_json(path, j);
  CHECK(json::parse(read_all(path)) == j);
}

TEST_CASE("write_csv refuses a nan or inf cell, naming its row and column") {
  Scratch s;
  const std::string path = s.file("calibration.csv");
  xbar::engine::io::StagedOutputs outputs;
  CHECK_THROWS_WITH_AS(
      xbar::engine::commands::detail::write_csv(outputs, path, "column,gain,offset_a\n0,1.5,2e-9\n1,-nan,0\n"),
      doctest::Contains(("refusing to write '" + path + "': row 2, column 'gain' is -nan").c_str()),
      xbar::NumericalError);
  CHECK_THROWS_WITH_AS(xbar::engine::commands::detail::write_csv(outputs, path, "a,b\n1,inf\n"),
                       doctest::Contains("row 1, column 'b' is inf"), xbar::NumericalError);
  outputs.commit();
  CHECK(!fs::exists(path));
  // Empty cells (not evaluated) and words are not numbers: accepted.
  xbar::engine::commands::detail::write_csv(outputs, path, "a,b,c\n1,,information\n");
  outputs.commit();
  CHECK(read_all(path) == "a,b,c\n1,,information\n");
}
