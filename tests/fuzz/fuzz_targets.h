// The bodies of the libFuzzer harnesses, shared by the fuzz executables (tests/fuzz/*_fuzz.cc,
// built with -DXBAR_FUZZ=ON) and by the normal test suite, which replays the committed seed
// corpus and every crash input found so far through the same functions
// (tests/fuzz/fuzz_replay_test.cc).
//
// Contract checked for any input bytes: the reader either returns a value that satisfies its
// documented postconditions or throws xbar::InputError. Any other exception escapes (libFuzzer
// reports it as a crash; the replay test as a failure); a broken postcondition calls
// fuzz_fail(), which prints what broke and aborts. Memory errors, undefined behaviour and
// leaks are the sanitizers' part (-fsanitize=fuzzer,address,undefined).
#pragma once

#include <cstddef>
#include <cstdint>

namespace xbar::fuzz {

// netlists::read_spice on the bytes as a deck, plus parse_spice_number against strtod on
// the bytes as a number.
void spice_reader_one(const uint8_t* data, size_t size);

// engine::io::read_npy on the bytes as an .npy file; a successful read is also written back with
// write_npy and must read back bit for bit.
void npy_reader_one(const uint8_t* data, size_t size);

// engine::cli::store_ini on the bytes as an INI file, against an options description with every
// value type the real command line uses.
void ini_one(const uint8_t* data, size_t size);

// devices::read_level_table (`xbar program --level-table FILE.csv`) on the bytes as a CSV:
// a table read is non-empty, finite, >= 0, strictly ascending.
void level_table_one(const uint8_t* data, size_t size);

// engine::sweep::parse_sweep_ini (issue 7's sweep-grid parser) on the bytes as a sweep INI; a parsed
// grid must give a consistent point count, first and last point. Built only when
// engine/sweep/sweep_grid.h exists (XBAR_HAVE_SWEEP_GRID), i.e. once the sweep branch is merged.
void sweep_grid_one(const uint8_t* data, size_t size);

}  // namespace xbar::fuzz
