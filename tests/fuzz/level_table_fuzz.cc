// libFuzzer entry point; the harness body and its contract are in fuzz_targets.h.
#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xbar::fuzz::level_table_one(data, size);
  return 0;
}
