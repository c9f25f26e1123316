#include "netlists/spice_writer.h"

#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>

#include "support/format.h"
#include "support/input_error.h"

namespace xbar::netlists {

namespace {

// Appends the shortest decimal form of v that parses back to the same double.
void append_number(std::string& line, double v) {
  char buf[32];  // the longest shortest-form double, "-2.2250738585072014e-308", is 24 chars
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  line.append(buf, r.ptr);
}

// Appends name, prefixed by `letter` unless it already starts with it: ngspice picks the
// element kind from the first letter alone, so a resistor called "load" would be an L.
void append_name(std::string& line, char letter, const std::string& name) {
  if (name.empty() || name[0] != letter) line.push_back(letter);
  line += name;
}

void append_nodes(std::string& line, const Circuit& c, const Element& e) {
  line.push_back(' ');
  line += c.node_name(e.pos);
  line.push_back(' ');
  line += c.node_name(e.neg);
}

std::string_view kind_word(ElementKind kind) {
  switch (kind) {
    case ElementKind::kResistor: return "resistor";
    case ElementKind::kCell: return "cell";
    case ElementKind::kVoltageSource: return "voltage source";
    case ElementKind::kCurrentSource: return "current source";
    case ElementKind::kTransistor: return "transistor";
  }
  return "element";
}

// Name of transistor model k in the deck.
std::string transistor_model_name(size_t k) { return "xbar_nmos" + std::to_string(k); }

// Formats element k as one deck line into `line` (cleared first); `step`, when given, makes
// the row sources steps (transient decks).
void format_element(std::string& line, const Circuit& c, size_t k, const TransientCard* step) {
  const Element& e = c.elements()[k];
  line.clear();
  if (!std::isfinite(e.value)) {
    throw InputError("SPICE writer: " + std::string(kind_word(e.kind)) + " '" +
                     c.element_name(k) + "' has a non-finite value (" + std::to_string(e.value) +
                     ")");
  }
  switch (e.kind) {
    case ElementKind::kResistor:
      if (e.value == 0.0) {
        // An ideal short. ngspice replaces R = 0 by a tiny resistance (with a warning), which
        // would make its answer differ from the native solver that merges the two nodes.
        line.push_back('v');
        append_name(line, 'r', c.element_name(k));
        append_nodes(line, c, e);
        line += " dc 0";
      } else {
        append_name(line, 'r', c.element_name(k));
        append_nodes(line, c, e);
        line.push_back(' ');
        append_number(line, e.value);
      }
      return;
    case ElementKind::kCell: {
      const auto& models = c.cell_models();
      if (e.model >= models.size() || !models[e.model]) {
        throw InputError("SPICE writer: cell '" + c.element_name(k) + "' refers to cell model #" +
                         std::to_string(e.model) + " but the circuit has " +
                         std::to_string(models.size()) + " model(s)");
      }
      if (!models[e.model]->is_linear()) {
        // Nonlinear cells are behavioural sources (possibly several lines, joined by '\n'
        // here and split by for_each_line). A crossbar cell's card is named "cell_i_j".
        std::string base = c.element_name(k);
        if (e.role == Role::kCell) base = base.substr(1);
        // A three-terminal cell (flash) takes its gate node too.
        const auto card = models[e.model]->gate_lines()
                              ? models[e.model]->gated_spice_card(base, c.node_name(e.pos), c.node_name(e.gate),
                                                                  c.node_name(e.neg), e.value)
                              : models[e.model]->spice_card(base, c.node_name(e.pos), c.node_name(e.neg), e.value);
        if (card.empty()) {
          line += "* " + base + " open (G = 0)";
          return;
        }
        for (size_t l = 0; l < card.size(); ++l) line += (l ? "\n" : "") + card[l];
        return;
      }
      if (e.value == 0.0) {
        // G = 0 is an open circuit: no element at all, just a note for the reader of the deck.
        line += "* ";
        append_name(line, 'r', c.element_name(k));
        line += " open (G = 0)";
        return;
      }
      append_name(line, 'r', c.element_name(k));
      append_nodes(line, c, e);
      line.push_back(' ');
      append_number(line, 1.0 / e.value);
      return;
    }
    case ElementKind::kVoltageSource:
    case ElementKind::kCurrentSource:
      append_name(line, e.kind == ElementKind::kVoltageSource ? 'v' : 'i', c.element_name(k));
      append_nodes(line, c, e);
      if (step && step->given() && e.kind == ElementKind::kVoltageSource &&
          (e.role == Role::kSourceLeft || e.role == Role::kSourceRight)) {
        line += " pwl(0 0 ";  // a row input: 0 V at t = 0, its value from t_rise on
        append_number(line, step->t_rise_s);
        line.push_back(' ');
        append_number(line, e.value);
        line.push_back(')');
        return;
      }
      line += " dc ";
      append_number(line, e.value);
      return;
    case ElementKind::kTransistor:
      if (e.model >= c.transistor_models().size() || !c.transistor_models()[e.model]) {
        throw InputError("SPICE writer: transistor '" + c.element_name(k) +
                         "' refers to transistor model #" + std::to_string(e.model) +
                         " but the circuit has " + std::to_string(c.transistor_models().size()) +
                         " model(s)");
      }
      if (!(e.value > 0)) {
        throw InputError("SPICE writer: transistor '" + c.element_name(k) + "' has W/L = " +
                         std::to_string(e.value) + ": must be > 0");
      }
      // drain gate source bulk(= source). L = 1 and W = W/L: ngspice's Beta = KP W / (L - 2 LD)
      // with LD = 0 is then KP * (W/L) bitwise, as natively.
      append_name(line, 'm', c.element_name(k));
      line.push_back(' ');
      line += c.node_name(e.pos);
      line.push_back(' ');
      line += c.node_name(e.gate);
      line.push_back(' ');
      line += c.node_name(e.neg);
      line.push_back(' ');
      line += c.node_name(e.neg);
      line += " " + transistor_model_name(e.model) + " w=";
      append_number(line, e.value);
      line += " l=1";
      return;
  }
}

// The .model cards of the transistor models and the one `.options gmin` they share (ngspice's
// gmin is global; the native model carries it per model, so they must agree). Empty without
// transistors.
std::vector<std::string> transistor_model_lines(const Circuit& c) {
  std::vector<std::string> lines;
  const auto& models = c.transistor_models();
  for (size_t k = 0; k < models.size(); ++k) {
    if (!models[k]) continue;
    lines.push_back(models[k]->spice_model_card(transistor_model_name(k)));
    const double gmin = models[k]->params().gmin_s;
    if (gmin != models[0]->params().gmin_s)
      throw InputError("SPICE writer: transistor models #0 and #" + std::to_string(k) +
                       " have different gmin (" + format_number(models[0]->params().gmin_s) +
                       " and " + format_number(gmin) + " S); ngspice has one global gmin");
  }
  if (!lines.empty()) {
    std::string opt = ".options gmin=";
    append_number(opt, models[0]->params().gmin_s);
    lines.push_back(opt);
  }
  return lines;
}

// One capacitor to ground per grid node with a nonzero capacitance (transient decks).
template <typename Emit>
void emit_grid_capacitors(const Circuit& c, const SpiceWriteOptions& opt, std::string& line,
                          Emit&& emit) {
  if (opt.c_row_f == 0 && opt.c_col_f == 0) return;
  if (c.grid_rows() == 0 || c.grid_cols() == 0)
    throw InputError("SPICE writer: grid capacitance c_row_f = " + format_number(opt.c_row_f) +
                     " F, c_col_f = " + format_number(opt.c_col_f) +
                     " F given for a circuit without a crossbar grid");
  for (const bool row : {true, false}) {
    const double cap = row ? opt.c_row_f : opt.c_col_f;
    if (cap == 0) continue;
    for (int32_t i = 0; i < c.grid_rows(); ++i)
      for (int32_t j = 0; j < c.grid_cols(); ++j) {
        line.assign(row ? "crow_" : "ccol_");
        line += std::to_string(i);
        line.push_back('_');
        line += std::to_string(j);
        line.push_back(' ');
        line += c.node_name(row ? c.row_node(i, j) : c.col_node(i, j));
        line += " 0 ";
        append_number(line, cap);
        emit(std::string_view(line));
      }
  }
}

// Calls emit(std::string_view line) for every line of the deck, in order; `line` is one
// buffer reused for all of them so the 12.6 million element lines of a 2048^2 array do not
// each allocate.
template <typename Emit>
void for_each_line(const Circuit& c, const std::vector<std::string>& header_comments,
                   const SpiceWriteOptions& opt, Emit&& emit) {
  opt.validate();
  std::string line = "* " + opt.title;
  emit(std::string_view(line));
  for (const std::string& comment : header_comments) {
    // One comment line per text line, so a multi-line comment cannot leak into the deck.
    size_t start = 0;
    while (true) {
      const size_t nl = comment.find('\n', start);
      std::string_view text(comment.data() + start,
                            (nl == std::string::npos ? comment.size() : nl) - start);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      line.assign("* ");
      line.append(text.data(), text.size());
      emit(std::string_view(line));
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  for (size_t k = 0; k < c.elements().size(); ++k) {
    format_element(line, c, k, &opt.transient);
    if (line.find('\n') == std::string::npos) {
      emit(std::string_view(line));
      continue;
    }
    size_t start = 0;  // a multi-line card (nonlinear cell)
    while (start <= line.size()) {
      const size_t nl = std::min(line.find('\n', start), line.size());
      emit(std::string_view(line.data() + start, nl - start));
      start = nl + 1;
    }
  }
  emit_grid_capacitors(c, opt, line, emit);
  for (const std::string& model_line : transistor_model_lines(c)) emit(std::string_view(model_line));
  if (opt.add_op && opt.transient.given()) {
    line.assign(".tran ");
    append_number(line, opt.transient.t_step_s);
    line.push_back(' ');
    append_number(line, opt.transient.t_stop_s);
    if (opt.transient.t_max_s > 0) {
      line += " 0 ";
      append_number(line, opt.transient.t_max_s);
    }
    emit(std::string_view(line));
  } else if (opt.add_op) {
    emit(std::string_view(".op"));
  }
  if (opt.add_end) emit(std::string_view(".end"));
}

}  // namespace

std::string spice_element_name(const Circuit& c, size_t k) {
  const Element& e = c.elements()[k];
  std::string name;
  char letter = 'r';
  if (e.kind == ElementKind::kVoltageSource) letter = 'v';
  if (e.kind == ElementKind::kCurrentSource) letter = 'i';
  if (e.kind == ElementKind::kTransistor) letter = 'm';
  if (e.kind == ElementKind::kResistor && e.value == 0.0) name.push_back('v');
  append_name(name, letter, c.element_name(k));
  return name;
}

void SpiceWriteOptions::validate() const {
  if (title.find_first_of("\r\n") != std::string::npos) {
    throw InputError("SpiceWriteOptions: title = '" + title +
                     "': must be a single line (ngspice reads only the first line as the title)");
  }
  for (const auto& [key, v] : {std::pair<const char*, double>{"c_row_f", c_row_f}, {"c_col_f", c_col_f}})
    if (!std::isfinite(v) || v < 0)
      throw InputError(std::string("SpiceWriteOptions: ") + key + " = " + format_number(v) +
                       ": must be a finite value >= 0 F");
  const TransientCard& t = transient;
  if (!std::isfinite(t.t_stop_s) || t.t_stop_s < 0)
    throw InputError("SpiceWriteOptions: transient.t_stop_s = " + format_number(t.t_stop_s) +
                     ": must be finite and >= 0 s (0: a DC deck)");
  if (!t.given()) return;
  if (!(t.t_step_s > 0 && t.t_step_s <= t.t_stop_s))
    throw InputError("SpiceWriteOptions: transient.t_step_s = " + format_number(t.t_step_s) +
                     ": must be in (0, t_stop_s = " + format_number(t.t_stop_s) + "] s");
  if (!(t.t_max_s >= 0 && std::isfinite(t.t_max_s)))
    throw InputError("SpiceWriteOptions: transient.t_max_s = " + format_number(t.t_max_s) +
                     ": must be finite and >= 0 s (0: ngspice's default)");
  if (!(t.t_rise_s > 0 && t.t_rise_s < t.t_stop_s))
    throw InputError("SpiceWriteOptions: transient.t_rise_s = " + format_number(t.t_rise_s) +
                     ": must be in (0, t_stop_s = " + format_number(t.t_stop_s) +
                     ") s (ngspice's PWL needs increasing times)");
}

void write_spice(std::ostream& out, const Circuit& c,
                 const std::vector<std::string>& header_comments, const SpiceWriteOptions& opt) {
  // Large chunks through out.write(): per-line stream insertions dominate otherwise.
  constexpr size_t kChunkBytes = size_t(1) << 16;
  std::string chunk;
  chunk.reserve(kChunkBytes + 256);
  for_each_line(c, header_comments, opt, [&](std::string_view line) {
    chunk.append(line.data(), line.size());
    chunk.push_back('\n');
    if (chunk.size() >= kChunkBytes) {
      out.write(chunk.data(), std::streamsize(chunk.size()));
      chunk.clear();
    }
  });
  out.write(chunk.data(), std::streamsize(chunk.size()));
  // A deck cut short (disk full, closed pipe) would otherwise surface later as a confusing
  // ngspice parse error.
  if (!out) throw InputError("SPICE writer: writing the deck failed (stream in a failed state)");
}

std::vector<std::string> spice_lines(const Circuit& c,
                                     const std::vector<std::string>& header_comments,
                                     const SpiceWriteOptions& opt) {
  std::vector<std::string> lines;
  lines.reserve(c.elements().size() + header_comments.size() + 3);
  for_each_line(c, header_comments, opt,
                [&](std::string_view line) { lines.emplace_back(line); });
  return lines;
}

}  // namespace xbar::netlists
