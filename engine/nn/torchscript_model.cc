// The libtorch side of user models (user_model.h): a TorchScript module loaded, its crossbar
// layers found, its forward graph rewritten so that each of their linear and convolution nodes
// calls the custom op xbar::crossbar, which runs the layer on its LayerRunner.
//
// The hardware path mirrors python/xbar/torch.py step for step (the same ATen functions in the
// same order: reshape, im2col through unfold, float64 products from the runner, back to the
// input's dtype, the bias added in torch), so that the two give the same predictions; a change
// here needs the same change there (python/tests/test_torchscript.py compares them).
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>

#include "devices/random_stream.h"
#include "engine/nn/layer_runner.h"
#include "engine/nn/nn_torch.h"
#include "engine/nn/nn_torch_api.h"
#include "engine/nn/user_model.h"
#include "support/input_error.h"

namespace xbar::engine::nn {

namespace {

using torch::jit::Node;
using torch::jit::Value;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string torch_message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  const size_t nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

// What the crossbar layers of one model share while it runs (xbar.torch's _Context).
struct RunContext {
  enum class Phase { kHardware, kSoftware, kCalibrate };
  Phase phase = Phase::kHardware;
  uint64_t next_batch = 0;
  std::optional<int64_t> images;  // of the forward call in progress
  uint64_t first_batch = 0;
  std::vector<std::shared_ptr<LayerRunner>> runners;  // per unit, the current hardware
  std::exception_ptr error;  // what a crossbar op threw, for forward() to rethrow as it was

  void begin(int64_t n) {
    images = n;
    first_batch = next_batch;
    next_batch += uint64_t(std::max<int64_t>(1, (n + kEvalBatchImages - 1) / kEvalBatchImages));
  }
  // (images, first batch) of a product of `rows` reads: the forward call's images when the rows
  // are whole images of it, else every row its own image, batches from the counter.
  std::pair<int64_t, uint64_t> batch_of(int64_t rows) {
    if (images && rows % *images == 0) return {*images, first_batch};
    const uint64_t first = next_batch;
    next_batch += uint64_t(std::max<int64_t>(1, (rows + kEvalBatchImages - 1) / kEvalBatchImages));
    return {rows, first};
  }
};

enum class CallKind { kLinear, kConv1d, kConv2d };

// One crossbar layer as a graph node calls it.
struct CrossbarCall {
  RunContext* ctx = nullptr;
  std::string name;
  CallKind kind = CallKind::kLinear;
  size_t layer = 0;                           // index in UserModelImpl::layers_
  int64_t first_unit = 0, groups = 1;         // set by assign_units
  int64_t in_features = 0, out_features = 0;  // linear
  int64_t in_channels = 0, out_channels = 0;  // conv
  torch::Tensor weight, bias;                 // bias undefined when the layer has none
  // Convolution parameters as the node gives them (1 or 2 entries each).
  std::vector<int64_t> kernel, stride, padding, dilation;
  std::string padding_mode;                   // "same" or "valid" (string padding), else ""
  std::vector<int64_t> reversed_padding;      // nn.Conv's _reversed_padding_repeated_twice

  torch::Tensor forward(const torch::Tensor& x) const;

 private:
  torch::Tensor software(const torch::Tensor& x) const;
  std::vector<torch::Tensor> group_rows(const torch::Tensor& x, std::array<int64_t, 3>& info) const;
  torch::Tensor assemble(const std::vector<torch::Tensor>& products, const std::array<int64_t, 3>& info) const;
};

torch::Tensor CrossbarCall::software(const torch::Tensor& x) const {
  switch (kind) {
    case CallKind::kLinear: return torch::linear(x, weight, bias);
    case CallKind::kConv1d:
      return padding_mode.empty() ? torch::conv1d(x, weight, bias, stride, padding, dilation, groups)
                                  : torch::conv1d(x, weight, bias, stride, padding_mode, dilation, groups);
    case CallKind::kConv2d:
      return padding_mode.empty() ? torch::conv2d(x, weight, bias, stride, padding, dilation, groups)
                                  : torch::conv2d(x, weight, bias, stride, padding_mode, dilation, groups);
  }
  return {};
}

std::vector<torch::Tensor> CrossbarCall::group_rows(const torch::Tensor& x, std::array<int64_t, 3>& info) const {
  if (kind == CallKind::kLinear) {
    info = {0, 0, 0};
    return {x.reshape({-1, in_features})};
  }
  const bool one_d = kind == CallKind::kConv1d;
  auto as2d = [&](const std::vector<int64_t>& v, int64_t one) {
    return one_d ? std::vector<int64_t>{one, v[0]} : std::vector<int64_t>{v[0], v.size() > 1 ? v[1] : v[0]};
  };
  torch::Tensor x4 = one_d ? x.unsqueeze(2) : x;
  std::vector<int64_t> p2;
  if (!padding_mode.empty()) {
    // String padding: applied digitally first (python: F.pad(..., mode="constant")).
    x4 = one_d ? torch::constant_pad_nd(x4.squeeze(2), reversed_padding, 0).unsqueeze(2)
               : torch::constant_pad_nd(x4, reversed_padding, 0);
    p2 = {0, 0};
  } else {
    p2 = as2d(padding, 0);
  }
  const std::vector<int64_t> k2 = as2d(kernel, 1), s2 = as2d(stride, 1), d2 = as2d(dilation, 1);
  const torch::Tensor cols = torch::im2col(x4, k2, d2, p2, s2);  // B x (C k k) x L
  const int64_t b = x4.size(0);
  const int64_t h_out = (x4.size(2) + 2 * p2[0] - d2[0] * (k2[0] - 1) - 1) / s2[0] + 1;
  const int64_t w_out = (x4.size(3) + 2 * p2[1] - d2[1] * (k2[1] - 1) - 1) / s2[1] + 1;
  const int64_t fan_in = (in_channels / groups) * k2[0] * k2[1];
  info = {b, h_out, w_out};
  std::vector<torch::Tensor> rows;
  for (int64_t g = 0; g < groups; ++g)
    rows.push_back(cols.slice(1, g * fan_in, (g + 1) * fan_in).transpose(1, 2).reshape({-1, fan_in}));
  return rows;
}

torch::Tensor CrossbarCall::assemble(const std::vector<torch::Tensor>& products, const std::array<int64_t, 3>& info) const {
  if (kind == CallKind::kLinear) return products[0];  // reshaped by forward
  const auto [b, h_out, w_out] = info;
  const int64_t og = out_channels / groups;
  std::vector<torch::Tensor> parts;
  for (const torch::Tensor& p : products) parts.push_back(p.reshape({b, h_out * w_out, og}).transpose(1, 2));
  torch::Tensor y = torch::cat(parts, 1).reshape({b, out_channels, h_out, w_out});
  if (bias.defined()) y = y + bias.view({1, -1, 1, 1});
  return kind == CallKind::kConv1d ? y.squeeze(2) : y;
}

torch::Tensor CrossbarCall::forward(const torch::Tensor& x) const {
  torch::NoGradGuard no_grad;
  std::array<int64_t, 3> info{};
  if (ctx->phase == RunContext::Phase::kSoftware) {
    const std::vector<torch::Tensor> rows = group_rows(x, info);
    for (int64_t g = 0; g < groups; ++g)
      if (rows[size_t(g)].numel()) ctx->runners.at(size_t(first_unit + g))->observe_input_max(rows[size_t(g)].max().item<double>());
    return software(x);
  }
  const bool calibrating = ctx->phase == RunContext::Phase::kCalibrate;
  const std::vector<torch::Tensor> rows = group_rows(x, info);
  std::vector<torch::Tensor> products;
  for (int64_t g = 0; g < groups; ++g) {
    const torch::Tensor& r = rows[size_t(g)];
    LayerRunner& runner = *ctx->runners.at(size_t(first_unit + g));
    auto [images, first] = r.size(0) ? ctx->batch_of(r.size(0)) : std::pair<int64_t, uint64_t>{1, 0};
    if (calibrating) first += kCalibrationBatchBase;  // the calibration pass counts from 0
    torch::Tensor y64 = torch::empty({r.size(0), runner.layer().fan_out()}, torch::kFloat64);
    Eigen::Map<RowMatrixXd> ym(y64.data_ptr<double>(), y64.size(0), y64.size(1));
    if (r.scalar_type() == torch::kFloat32) {  // widened batch by batch inside the runner
      const torch::Tensor x32 = r.contiguous();
      const Eigen::Map<const RowMatrixXf> xm(x32.data_ptr<float>(), x32.size(0), x32.size(1));
      runner.mvm_into(xm, images, first, calibrating, ym);
    } else {
      const torch::Tensor x64 = r.to(torch::kFloat64).contiguous();
      const Eigen::Map<const RowMatrixXd> xm(x64.data_ptr<double>(), x64.size(0), x64.size(1));
      runner.mvm_into(xm, images, first, calibrating, ym);
    }
    products.push_back(y64.to(x.scalar_type()));
  }
  if (kind == CallKind::kLinear) {
    std::vector<int64_t> shape = x.sizes().vec();
    shape.back() = out_features;
    torch::Tensor y = products[0].reshape(shape);
    return bias.defined() ? y + bias : y;
  }
  return assemble(products, info);
}

// The custom op: the node's integer argument is the address of its CrossbarCall, owned by the
// UserModelImpl whose graph holds the node (it outlives every run of that graph).
torch::Tensor crossbar_op(const torch::Tensor& x, int64_t call) {
  const CrossbarCall* c = reinterpret_cast<const CrossbarCall*>(call);
  try {
    return c->forward(x);
  } catch (const xbar::InputError&) {
    c->ctx->error = std::current_exception();
    throw;
  } catch (const xbar::NumericalError&) {
    c->ctx->error = std::current_exception();
    throw;
  }
}

TORCH_LIBRARY(xbar, m) { m.def("crossbar(Tensor x, int call) -> Tensor", &crossbar_op); }

// "__torch__.torch.nn.modules.linear.___torch_mangle_3.Linear" -> "torch.nn.modules.linear.Linear".
std::string type_name(const torch::jit::Module& m) {
  std::string n = m.type()->name() ? m.type()->name()->qualifiedName() : "";
  static const std::regex mangle(R"(___torch_mangle_\d+\.)");
  n = std::regex_replace(n, mangle, "");
  const std::string prefix = "__torch__.";
  if (n.rfind(prefix, 0) == 0) n = n.substr(prefix.size());
  return n;
}

std::string short_type(const std::string& t) {
  const size_t dot = t.rfind('.');
  return dot == std::string::npos ? t : t.substr(dot + 1);
}

// Modules with matrix products xbar does not map, and why (python/xbar/torch.py's _REFUSED).
const char* refusal(const std::string& type) {
  if (type == "torch.nn.modules.activation.MultiheadAttention")
    return "nn.MultiheadAttention computes its projections functionally from its own weight tensors, not through "
           "Linear modules; write the attention with nn.Linear projections (as python/examples/vit.py does)";
  if (type == "torch.nn.modules.conv.Conv3d") return "3-d convolutions are not mapped onto tiles (Linear, Conv1d and Conv2d are)";
  if (type.rfind("torch.nn.modules.conv.ConvTranspose", 0) == 0)
    return "transposed convolutions are not mapped onto tiles (Linear, Conv1d and Conv2d are)";
  if (type == "torch.nn.modules.rnn.RNN" || type == "torch.nn.modules.rnn.LSTM" || type == "torch.nn.modules.rnn.GRU")
    return "recurrent layers (RNN, LSTM, GRU) are not mapped onto tiles (Linear, Conv1d and Conv2d are)";
  if (type == "torch.nn.modules.linear.Bilinear") return "bilinear layers are not mapped onto tiles (Linear, Conv1d and Conv2d are)";
  return nullptr;
}

CallKind mapped_kind(const std::string& type, bool& mapped) {
  mapped = true;
  if (type == "torch.nn.modules.linear.Linear") return CallKind::kLinear;
  if (type == "torch.nn.modules.conv.Conv1d") return CallKind::kConv1d;
  if (type == "torch.nn.modules.conv.Conv2d") return CallKind::kConv2d;
  mapped = false;
  return CallKind::kLinear;
}

const char* kind_name(CallKind k) {
  return k == CallKind::kLinear ? "linear" : k == CallKind::kConv1d ? "conv1d" : "conv2d";
}

std::string where(const Node* n) {
  const auto flc = n->sourceRange().file_line_col();
  if (!flc) return "";
  const auto& [file, line, col] = *flc;
  return " (" + file + ":" + std::to_string(line) + ")";
}

class UserModelImpl : public UserModel {
 public:
  explicit UserModelImpl(const std::string& path);
  const std::string& path() const override { return path_; }
  const std::vector<UserLayer>& layers() const override { return layers_; }
  SoftwareRun predict_software(const io::SampleSet& samples, int threads) override;
  double build_hardware(const HardwareOptions& options, HardwareMode mode, const Progress& progress) override;
  double calibrate(const io::SampleSet& inputs) override;
  std::vector<int> predict_hardware(const io::SampleSet& samples) override;
  nlohmann::json hardware_summary(bool per_tile) const override;

 private:
  void find_layers();
  void rewrite_graph();
  void assign_units();
  void rewrite_block(torch::jit::Block* block, torch::jit::Graph& graph);
  std::optional<std::string> attribute_path(Value* v) const;
  c10::IValue attribute(const std::string& path) const;
  std::vector<int64_t> int_list(Value* v, const std::string& layer, const char* what) const;
  torch::Tensor forward(torch::jit::Module& m, const torch::Tensor& x);
  torch::Tensor input_tensor(const io::SampleSet& s, int64_t first, int64_t count) const;
  std::vector<int> predictions(const torch::Tensor& out, const std::string& what) const;

  std::string path_;
  torch::jit::Module software_;  // the module as saved
  torch::jit::Module hardware_;  // the same, forward rewritten
  Value* self_ = nullptr;
  std::vector<UserLayer> layers_;
  std::map<std::string, size_t> layer_of_module_;  // module path -> index in layers_
  std::vector<std::unique_ptr<CrossbarCall>> calls_;
  RunContext ctx_;
  c10::ScalarType dtype_ = torch::kFloat32;
};

UserModelImpl::UserModelImpl(const std::string& path) : path_(path) {
  try {
    software_ = torch::jit::load(path);
    hardware_ = torch::jit::load(path);
  } catch (const c10::Error& e) {
    throw InputError(path + ": not a model file written by `xbar train` nor a TorchScript module (expected "
                     "torch.jit.save of a torch.jit.script or torch.jit.trace of the model): " + torch_message(e));
  }
  if (!software_.find_method("forward"))
    throw InputError(path + ": a TorchScript archive without a forward method (save the scripted or traced model "
                     "itself with torch.jit.save)");
  software_.eval();
  hardware_.eval();
  for (const auto& p : software_.parameters()) {
    if (p.is_floating_point()) {
      dtype_ = p.scalar_type();
      break;
    }
  }
  find_layers();
  rewrite_graph();
  assign_units();
}

void UserModelImpl::find_layers() {
  for (const auto& nm : hardware_.named_modules()) {
    const std::string type = type_name(nm.value);
    const std::string name = nm.name.empty() ? "<model>" : nm.name;
    if (const char* why = refusal(type))
      throw InputError(path_ + ": layer " + name + " (" + short_type(type) + "): " + why);
    bool mapped = false;
    const CallKind kind = mapped_kind(type, mapped);
    if (!mapped) continue;
    UserLayer l;
    l.name = nm.name;
    l.kind = kind_name(kind);
    const torch::Tensor w = nm.value.attr("weight").toTensor();
    // A scripted convolution keeps its groups as an attribute; a traced one only in its graph
    // node (rewrite_block fills it in; 0 until then).
    l.groups = kind == CallKind::kLinear ? 1 : nm.value.hasattr("groups") ? nm.value.attr("groups").toInt() : 0;
    l.fan_in = kind == CallKind::kLinear ? w.size(1) : w.numel() / w.size(0);
    l.fan_out = w.size(0);  // divided by the groups in assign_units
    layer_of_module_[nm.name] = layers_.size();
    layers_.push_back(l);
  }
  if (layers_.empty())
    throw InputError(path_ + ": the model has no Linear, Conv1d or Conv2d layer to run on crossbar tiles");
}

void UserModelImpl::assign_units() {
  int64_t unit = 0;
  for (UserLayer& l : layers_) {
    if (l.groups == 0) l.groups = 1;  // a traced convolution its graph never calls
    if (l.fan_out % l.groups != 0)
      throw InputError(path_ + ": layer " + l.name + ": " + std::to_string(l.fan_out) + " output channels in " +
                       std::to_string(l.groups) + " groups");
    l.fan_out /= l.groups;
    l.first_unit = unit;
    unit += l.groups;
  }
  for (auto& c : calls_) {
    c->first_unit = layers_[c->layer].first_unit;
    c->groups = layers_[c->layer].groups;
    c->in_channels = c->weight.size(1) * c->groups;
  }
}

std::optional<std::string> UserModelImpl::attribute_path(Value* v) const {
  std::vector<std::string> names;
  while (v->node()->kind() == c10::prim::GetAttr) {
    names.push_back(v->node()->s(c10::attr::name));
    v = v->node()->input(0);
  }
  if (v != self_ || names.empty()) return std::nullopt;
  std::string p;
  for (auto it = names.rbegin(); it != names.rend(); ++it) p += (p.empty() ? "" : ".") + *it;
  return p;
}

c10::IValue UserModelImpl::attribute(const std::string& path) const {
  c10::IValue cur = hardware_._ivalue();
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    cur = cur.toObject()->getAttr(part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur;
}

// An int[] argument of a node: a constant, a module attribute, or a list of those.
std::vector<int64_t> UserModelImpl::int_list(Value* v, const std::string& layer, const char* what) const {
  auto fail = [&]() -> std::vector<int64_t> {
    throw InputError(path_ + ": layer " + layer + ": its convolution's " + what + " is computed in the forward; xbar "
                     "maps convolutions whose stride, padding, dilation and groups are fixed");
  };
  c10::IValue iv;
  if (auto c = torch::jit::toIValue(v)) {
    iv = *c;
  } else if (auto p = attribute_path(v)) {
    iv = attribute(*p);
  } else if (v->node()->kind() == c10::prim::ListConstruct || v->node()->kind() == c10::prim::TupleConstruct) {
    std::vector<int64_t> r;
    for (Value* e : v->node()->inputs()) {
      const std::vector<int64_t> one = int_list(e, layer, what);
      if (one.size() != 1) return fail();
      r.push_back(one[0]);
    }
    return r;
  } else {
    return fail();
  }
  if (iv.isInt()) return {iv.toInt()};
  if (iv.isIntList()) return iv.toIntVector();
  if (iv.isTuple()) {
    std::vector<int64_t> r;
    for (const auto& e : iv.toTupleRef().elements()) {
      if (!e.isInt()) return fail();
      r.push_back(e.toInt());
    }
    return r;
  }
  return fail();
}

void UserModelImpl::rewrite_graph() {
  auto graph = hardware_.get_method("forward").graph();
  torch::jit::Inline(*graph);
  self_ = graph->inputs().at(0);
  rewrite_block(graph->block(), *graph);
  torch::jit::EliminateDeadCode(graph);
}

void UserModelImpl::rewrite_block(torch::jit::Block* block, torch::jit::Graph& graph) {
  static const c10::Symbol kCrossbar = c10::Symbol::fromQualString("xbar::crossbar");
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    Node* n = *it;
    ++it;
    for (torch::jit::Block* b : n->blocks()) rewrite_block(b, graph);
    const std::string op = n->kind().toQualString();
    const bool linear = op == "aten::linear";
    const bool conv = op == "aten::conv1d" || op == "aten::conv2d" || op == "aten::_convolution" ||
                      op == "aten::_convolution_mode" || op == "aten::convolution";
    const bool other = op == "aten::conv3d" || op.rfind("aten::conv_transpose", 0) == 0 || op == "aten::lstm" ||
                       op == "aten::gru" || op == "aten::rnn_tanh" || op == "aten::rnn_relu" || op == "aten::bilinear";
    if (!linear && !conv && !other) continue;
    const std::optional<std::string> wpath = attribute_path(n->input(1));
    std::string module;
    if (wpath && wpath->size() > 7 && wpath->compare(wpath->size() - 7, 7, ".weight") == 0)
      module = wpath->substr(0, wpath->size() - 7);
    else if (wpath && *wpath == "weight")
      module = "";
    const auto found = layer_of_module_.find(module);
    if (!wpath || other || found == layer_of_module_.end())
      throw InputError(path_ + ": " + op + where(n) + " with weight " + (wpath ? "'" + *wpath + "'" : "computed in the forward") +
                       ": xbar runs nn.Linear, nn.Conv1d and nn.Conv2d modules on tiles, and this product is not one "
                       "of them (write it as such a module, or keep the model's other products out of the saved forward)");
    UserLayer& ul = layers_[found->second];
    const std::string lname = ul.name.empty() ? "<model>" : ul.name;
    const auto mod = attribute_path(n->input(2));
    if (!(mod && *mod == (module.empty() ? "bias" : module + ".bias")) && !n->input(2)->type()->cast<c10::NoneType>())
      throw InputError(path_ + ": layer " + lname + where(n) + ": its bias is not the module's own bias parameter");
    auto call = std::make_unique<CrossbarCall>();
    call->ctx = &ctx_;
    call->name = lname;
    call->layer = found->second;
    const c10::IValue m = module.empty() ? hardware_._ivalue() : attribute(module);
    call->weight = m.toObject()->getAttr("weight").toTensor();
    const c10::IValue b = m.toObject()->getAttr("bias");
    if (b.isTensor()) call->bias = b.toTensor();
    if (linear) {
      call->kind = CallKind::kLinear;
      call->in_features = call->weight.size(1);
      call->out_features = call->weight.size(0);
    } else {
      call->kind = call->weight.dim() == 3 ? CallKind::kConv1d : CallKind::kConv2d;
      call->out_channels = call->weight.size(0);
      for (int64_t d = 2; d < call->weight.dim(); ++d) call->kernel.push_back(call->weight.size(d));
      call->stride = int_list(n->input(3), lname, "stride");
      const bool string_padding = n->input(4)->type()->kind() == c10::TypeKind::StringType;
      if (string_padding) {
        const auto s = torch::jit::toIValue(n->input(4));
        if (!s) int_list(n->input(4), lname, "padding");  // throws: computed
        call->padding_mode = s->toStringRef();
      } else {
        call->padding = int_list(n->input(4), lname, "padding");
      }
      call->dilation = int_list(n->input(5), lname, "dilation");
      if (op == "aten::_convolution" || op == "aten::convolution") {
        const auto transposed = torch::jit::toIValue(n->input(6));
        if (!transposed || transposed->toBool())
          throw InputError(path_ + ": layer " + lname + where(n) + ": a transposed convolution is not mapped onto tiles");
      }
      const std::vector<int64_t> g =
          int_list(n->input(op == "aten::_convolution" || op == "aten::convolution" ? 8 : 6), lname, "groups");
      if (g.size() != 1 || g[0] < 1 || (ul.groups != 0 && g[0] != ul.groups))
        throw InputError(path_ + ": layer " + lname + where(n) + ": groups " + (g.empty() ? "?" : std::to_string(g[0])) +
                         " differ from the module's own or an earlier call's");
      ul.groups = g[0];
      if (!call->padding_mode.empty()) {
        // nn.Conv's _reversed_padding_repeated_twice for string padding.
        const size_t dims = call->kernel.size();
        call->reversed_padding.assign(2 * dims, 0);
        if (call->padding_mode == "same")
          for (size_t d = 0; d < dims; ++d) {
            const int64_t dil = call->dilation.size() == dims ? call->dilation[d] : call->dilation[0];
            const int64_t total = dil * (call->kernel[d] - 1), left = total / 2;
            const size_t i = dims - 1 - d;
            call->reversed_padding[2 * i] = left;
            call->reversed_padding[2 * i + 1] = total - left;
          }
      }
    }
    ++ul.calls;
    torch::jit::WithInsertPoint guard(n);
    Value* handle = graph.insertConstant(int64_t(reinterpret_cast<intptr_t>(call.get())));
    Node* replacement = graph.insertNode(graph.create(kCrossbar, {n->input(0), handle}, 1));
    replacement->output()->setType(n->output()->type());
    replacement->setSourceRange(n->sourceRange());
    n->output()->replaceAllUsesWith(replacement->output());
    n->destroy();
    calls_.push_back(std::move(call));
  }
}

torch::Tensor UserModelImpl::input_tensor(const io::SampleSet& s, int64_t first, int64_t count) const {
  std::vector<int64_t> shape = {count};
  shape.insert(shape.end(), s.sample_shape.begin(), s.sample_shape.end());
  return torch::from_blob(const_cast<float*>(s.values.data()) + first * s.features(), shape, torch::kFloat32)
      .to(dtype_)
      .clone();
}

torch::Tensor UserModelImpl::forward(torch::jit::Module& m, const torch::Tensor& x) {
  // The graph as written, no optimization passes: the ops xbar.torch runs in eager mode.
  torch::jit::GraphOptimizerEnabledGuard no_optimization(false);
  c10::IValue out;
  ctx_.error = nullptr;
  try {
    out = m.forward({x});
  } catch (const std::exception& e) {
    // The interpreter rethrows what an op threw as a runtime_error with its traceback: an error
    // of the crossbar op itself (Newton failure, ...) comes back with its own type, any other
    // as the model's failure, named by the last line of torch's message (the error itself).
    if (ctx_.error) std::rethrow_exception(ctx_.error);
    std::string m = e.what();
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    const size_t nl = m.rfind('\n');
    if (nl != std::string::npos) m = m.substr(nl + 1);
    throw InputError(path_ + ": the model's forward failed on inputs of shape " + c10::str(x.sizes()) + ": " + m);
  }
  if (!out.isTensor())
    throw InputError(path_ + ": the model's forward returns " + out.tagKind() + ", expected a tensor of N x classes");
  return out.toTensor();
}

std::vector<int> UserModelImpl::predictions(const torch::Tensor& out, const std::string& what) const {
  if (out.dim() != 2 || out.size(1) < 1)
    throw InputError(path_ + ": the model's output has shape " + c10::str(out.sizes()) + " (" + what +
                     "), expected N x classes (the prediction is the largest class score)");
  const torch::Tensor a = out.argmax(1).to(torch::kInt64).contiguous();
  std::vector<int> r(size_t(a.size(0)));
  for (int64_t k = 0; k < a.size(0); ++k) r[size_t(k)] = int(a.data_ptr<int64_t>()[k]);
  return r;
}

SoftwareRun UserModelImpl::predict_software(const io::SampleSet& s, int threads) {
  internal::configure_torch(threads);
  torch::NoGradGuard no_grad;
  SoftwareRun r;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < s.count; first += kUserBatchImages) {
    const int64_t n = std::min(kUserBatchImages, s.count - first);
    const torch::Tensor out = forward(software_, input_tensor(s, first, n));
    if (out.size(0) != n)
      throw InputError(path_ + ": the model's output has " + std::to_string(out.size(0)) + " rows for " +
                       std::to_string(n) + " inputs (expected N x classes)");
    const std::vector<int> p = predictions(out, "software");
    r.predictions.insert(r.predictions.end(), p.begin(), p.end());
  }
  r.seconds = seconds_since(t0);
  return r;
}

double UserModelImpl::build_hardware(const HardwareOptions& o, HardwareMode mode, const Progress& progress) {
  internal::configure_torch(o.threads);
  ctx_.runners.clear();
  std::vector<std::shared_ptr<HardwareLayer>> all;
  for (const UserLayer& l : layers_) {
    const torch::Tensor w = attribute(l.name.empty() ? "weight" : l.name + ".weight").toTensor().detach().to(torch::kFloat64);
    const int64_t og = l.fan_out;
    for (int64_t g = 0; g < l.groups; ++g) {
      // fan_in x fan_out: the transpose of torch's (out, in...) rows of this group.
      const torch::Tensor wg = w.slice(0, g * og, (g + 1) * og).reshape({og, -1}).t().contiguous();
      RowMatrixXd wm = Eigen::Map<const RowMatrixXd>(wg.data_ptr<double>(), wg.size(0), wg.size(1));
      const std::string name = l.groups == 1 ? (l.name.empty() ? "<model>" : l.name) : l.name + ".group" + std::to_string(g);
      all.push_back(std::make_shared<HardwareLayer>(name, std::move(wm), o, mode,
                                                    devices::derive_seed(o.seed, uint64_t(l.first_unit + g))));
    }
  }
  std::vector<HardwareLayer*> raw;
  for (auto& l : all) raw.push_back(l.get());
  const double s = build_layers(raw, o.threads, mode, progress);
  for (auto& l : all) ctx_.runners.push_back(std::make_shared<LayerRunner>(l, o.threads));
  return s;
}

double UserModelImpl::calibrate(const io::SampleSet& inputs) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = input_tensor(inputs, 0, inputs.count);
  ctx_.phase = RunContext::Phase::kSoftware;
  ctx_.begin(inputs.count);
  forward(hardware_, x);
  for (auto& r : ctx_.runners) r->finish_input_calibration();
  ctx_.phase = RunContext::Phase::kCalibrate;
  ctx_.next_batch = 0;
  ctx_.begin(inputs.count);
  forward(hardware_, x);
  for (auto& r : ctx_.runners) r->finish_adc_calibration();
  ctx_.phase = RunContext::Phase::kHardware;
  ctx_.images.reset();
  return seconds_since(t0);
}

std::vector<int> UserModelImpl::predict_hardware(const io::SampleSet& s) {
  torch::NoGradGuard no_grad;
  ctx_.next_batch = 0;
  std::vector<int> r;
  for (int64_t first = 0; first < s.count; first += kUserBatchImages) {
    const int64_t n = std::min(kUserBatchImages, s.count - first);
    ctx_.begin(n);
    const std::vector<int> p = predictions(forward(hardware_, input_tensor(s, first, n)), "hardware");
    r.insert(r.end(), p.begin(), p.end());
  }
  ctx_.images.reset();
  return r;
}

nlohmann::json UserModelImpl::hardware_summary(bool per_tile) const {
  nlohmann::json layers = nlohmann::json::array();
  for (const UserLayer& l : layers_)
    for (int64_t g = 0; g < l.groups; ++g) {
      nlohmann::json j = ctx_.runners.at(size_t(l.first_unit + g))->summary_json(per_tile);
      j["kind"] = l.kind;
      j["unit"] = l.first_unit + g;
      j["graph_calls"] = l.calls;
      layers.push_back(j);
    }
  return layers;
}

}  // namespace

bool internal::is_xbar_model_torch(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  const std::string expected = " (expected DIR/model.pt of `xbar train` or a TorchScript module saved with torch.jit.save)";
  if (!std::filesystem::exists(status)) throw InputError("model file '" + path + "' does not exist" + expected);
  // A directory or a device is there, but is no model: say what it is (issue 17).
  if (std::filesystem::is_directory(status)) throw InputError("model file '" + path + "' is a directory" + expected);
  if (!std::filesystem::is_regular_file(status))
    throw InputError("model file '" + path + "' is not a regular file (a device or a pipe)" + expected);
  torch::serialize::InputArchive ar;
  try {
    ar.load_from(path);
  } catch (const c10::Error&) {
    return false;
  }
  c10::IValue v;
  try {
    return ar.try_read("xbar_meta", v) && v.isString();
  } catch (const c10::Error&) {
    return false;
  }
}

std::shared_ptr<UserModel> internal::load_user_model_torch(const std::string& path) {
  return std::make_shared<UserModelImpl>(path);
}

}  // namespace xbar::engine::nn
