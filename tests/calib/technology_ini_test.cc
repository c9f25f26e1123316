// The technology INI file (calib/technology_ini.h): the shipped template holds exactly the
// built-in defaults, a complete file sets every figure, and each way a file can be incomplete
// or wrong is refused naming the file, the line and the key.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "calib/technology_ini.h"
#include "support/input_error.h"
#include "tests/engine/scratch_run.h"

#ifndef XBAR_SOURCE_DIR
#error "XBAR_SOURCE_DIR must be defined by the build"
#endif

using namespace xbar;
namespace fs = std::filesystem;

namespace {

// A complete file with a different value for every key (so each key is seen to land in its
// own field), as the template lays it out.
const char* const kComplete =
    "# my process\n"
    "[adc]\n"
    "adc-fom = 12e-15   ; from our own converter\n"
    "adc-enob = 7.5\n"
    "adc-conversion-time = 2e-9\n"
    "adc-area = 3e-9\n"
    "[dac]\n"
    "dac-energy = 4e-14\n"
    "dac-area = 5e-11\n"
    "[sense]\n"
    "tia-power = 6e-5\n"
    "tia-area = 7e-11\n"
    "[array]\n"
    "cell-pitch = 8e-8\n";

std::string write(const test::ScratchDir& d, const std::string& name, const std::string& text) {
  const fs::path p = d.path / name;
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

// `text` with the line holding `key` replaced by `line` (or removed when line is empty).
std::string with_line(const std::string& text, const std::string& key, const std::string& line) {
  const size_t b = text.find("\n" + key + " ") + 1;
  const size_t e = text.find('\n', b) + 1;
  return text.substr(0, b) + (line.empty() ? "" : line + "\n") + text.substr(e);
}

}  // namespace

TEST_CASE("the shipped template calib/technology.ini reads back the built-in defaults bitwise") {
  const calib::Technology t = calib::read_technology_ini(std::string(XBAR_SOURCE_DIR) + "/calib/technology.ini");
  const calib::Technology d;
  for (const calib::TechnologyKey& k : calib::technology_keys()) {
    CAPTURE(k.key);
    CHECK(t.*(k.field) == d.*(k.field));
  }
}

TEST_CASE("a complete technology file sets every figure from its own key") {
  test::ScratchDir d;
  const calib::Technology t = calib::read_technology_ini(write(d, "t.ini", kComplete));
  CHECK(t.adc_fom_j == 12e-15);
  CHECK(t.adc_enob == 7.5);
  CHECK(t.adc_conversion_s == 2e-9);
  CHECK(t.adc_area_m2 == 3e-9);
  CHECK(t.dac_energy_j == 4e-14);
  CHECK(t.dac_area_m2 == 5e-11);
  CHECK(t.tia_power_w == 6e-5);
  CHECK(t.tia_area_m2 == 7e-11);
  CHECK(t.cell_pitch_m == 8e-8);
  CHECK(calib::technology_keys().size() == 9);
}

TEST_CASE("an incomplete or malformed technology file is refused naming the file, line and key") {
  test::ScratchDir d;
  struct Case {
    std::string what, text;
    std::vector<std::string> needles;
  };
  const std::string c = kComplete;
  const Case cases[] = {
      {"missing key", with_line(c, "tia-power", ""), {"m.ini", "missing key(s) tia-power"}},
      {"two missing keys", with_line(with_line(c, "adc-fom", ""), "cell-pitch", ""), {"adc-fom, cell-pitch"}},
      {"non-numeric value", with_line(c, "adc-area", "adc-area = big"), {"m.ini:6", "key adc-area = 'big'", "number"}},
      {"unit suffix", with_line(c, "adc-fom", "adc-fom = 25f"), {"m.ini:3", "adc-fom", "'25f'"}},
      {"empty value", with_line(c, "dac-area", "dac-area ="), {"m.ini:9", "dac-area", "''"}},
      {"nan", with_line(c, "tia-area", "tia-area = nan"), {"m.ini:12", "tia-area", "finite"}},
      {"out of range", with_line(c, "cell-pitch", "cell-pitch = -1e-7"), {"m.ini:14", "key cell-pitch = -1e-07", "> 0"}},
      {"unknown key", with_line(c, "adc-enob", "adc-bits = 8"), {"m.ini:4", "unknown key 'adc-bits'"}},
      {"key twice", c + "adc-fom = 1e-15\n", {"m.ini:15", "adc-fom", "twice", "line 3"}},
      {"no '='", with_line(c, "dac-energy", "dac-energy 4e-14"), {"m.ini:8", "key = value"}},
      {"open section", "[adc\n" + c, {"m.ini:1", "[adc", "]"}},
  };
  for (const Case& k : cases) {
    CAPTURE(k.what);
    const std::string path = write(d, "m.ini", k.text);
    try {
      calib::read_technology_ini(path);
      FAIL("accepted");
    } catch (const InputError& e) {
      const std::string msg = e.what();
      for (const auto& n : k.needles) CHECK_MESSAGE(msg.find(n) != std::string::npos, "'" << n << "' not in: " << msg);
    }
  }
  CHECK_THROWS_WITH_AS(calib::read_technology_ini((d.path / "absent.ini").string()),
                       doctest::Contains("no such file"), InputError);
}
