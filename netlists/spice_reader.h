// SPICE reader: an ngspice deck of resistors and DC sources as a Circuit.
//
//   netlists::Circuit c = netlists::read_spice_file("array.cir");
//   std::istringstream in(text);
//   netlists::Circuit d = netlists::read_spice(in, "deck.cir");   // name used in errors
//
// The subset read (ngspice dialect):
//   - the FIRST line is the title and is ignored whatever it holds, as ngspice does;
//   - "*" comment lines, blank lines, inline comments from ';' or from a '$' preceded by
//     whitespace; "+" continuation lines join the previous logical line (comment and blank
//     lines in between are skipped);
//   - everything is lowercased (names and nodes); nodes "0" and "gnd" are ground;
//   - R:  rname n1 n2 value      or  rname n1 n2 r=value           -> kResistor, value >=
//         kMinResistanceOhm (1e-12 ohm; "1f" is 1e-15 ohm, refused)
//   - V:  vname n+ n- value      or  vname n+ n- dc value (dc=value) -> kVoltageSource
//   - I:  iname n+ n- value      or  iname n+ n- dc value (dc=value) -> kCurrentSource
//   - values: a decimal number with an optional engineering suffix f p n u m k meg g t mil
//     (case-insensitive; mil = 25.4e-6), then optional unit letters that are ignored as in
//     SPICE ("2.5kohm" = 2500, "10V" = 10, and beware "1F" = 1e-15);
//   - .end stops reading; .op .option(s) .title .save .print .probe are ignored, and so is
//     everything between .control and .endc.
// Elements are Role::kNamed and keep their lowercased names; nodes get ids in order of first
// appearance. A value with a suffix is parsed in one correctly rounded step ("1.1k" is
// exactly the double nearest 1100), so decks from write_spice() read back bitwise.
//
//   - names: an element or node name must mean the same to ngspice: ASCII, no control
//     character, none of ',' '(' ')' (field separators to ngspice) or '{' '}' quotes
//     (expressions); numeric node names ("1", "0012", "1e3") are names like any other ("0"
//     and "gnd" are ground, "00" is not), as in ngspice.
//   - bounds (support/text_file.h): lines of at most kDeckLimits.max_line_bytes, a deck of at
//     most `limits.max_file_bytes` (the caller's memory budget; kDeckLimits by default), no
//     NUL byte; a directory or a device is refused by read_spice_file.
// Every problem throws xbar::InputError "<filename>:<line>: <what>", the line being the
// physical line where the offending element starts: unsupported elements (C, L, D, ...),
// dot cards (.subckt, .include, .param, .model, analyses, ...) and source forms (ac,
// pulse(...), ...); missing fields; a value that is not a number or not finite; a resistance
// <= 0; a line (after the title, comments removed) that is not UTF-8; an element with both
// terminals on one node; duplicate element names; a node that
// only one element terminal touches (dangling); a deck without elements. Element errors are
// reported as they are read; duplicates and dangling nodes are checked once the deck is read.
#pragma once

#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "netlists/circuit.h"
#include "support/text_file.h"

namespace xbar::netlists {

// Bounds of a deck: a line of an element is tens of bytes (a nonlinear cell's B-source card
// a few hundred); a 4096 x 4096 crossbar deck is about 2 GB.
inline constexpr TextLimits kDeckLimits{std::size_t(1) << 20, std::uint64_t(4) << 30};

// Reads a deck from `in`; `filename` only labels error messages.
Circuit read_spice(std::istream& in, const std::string& filename, const TextLimits& limits = kDeckLimits);

// Reads the deck at `path`; throws xbar::InputError naming the path when it cannot be opened
// or is not a regular file or a pipe.
Circuit read_spice_file(const std::string& path, const TextLimits& limits = kDeckLimits);

namespace internal {

// A SPICE number as described above ("2.5k", "10meg", "1e-3", "5ohm"); std::nullopt when the
// text is not one. Overflow gives +-inf and underflow 0 (the caller checks finiteness and
// range, where it can name the element).
std::optional<double> parse_spice_number(std::string_view text);

}  // namespace internal

}  // namespace xbar::netlists
