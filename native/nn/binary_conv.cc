#include "nn/binary_conv.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <sstream>
#include <vector>

#include "binding/guard.h"

namespace autospeech::nn {

BinaryScale parseBinaryScale(const std::string& s) {
  if (s == "channel") return BinaryScale::Channel;
  if (s == "layer") return BinaryScale::Layer;
  if (s == "none") return BinaryScale::None;
  throw ArgumentError("binary conv: scale must be 'channel', 'layer' or 'none', got '" + s + "'");
}

BinarySte parseBinarySte(const std::string& s) {
  if (s == "clip") return BinarySte::Clip;
  if (s == "identity") return BinarySte::Identity;
  throw ArgumentError("binary conv: ste must be 'clip' or 'identity', got '" + s + "'");
}

const char* binaryScaleName(BinaryScale s) {
  return s == BinaryScale::Channel ? "channel" : s == BinaryScale::Layer ? "layer" : "none";
}

const char* binarySteName(BinarySte s) { return s == BinarySte::Clip ? "clip" : "identity"; }

namespace {

std::atomic<bool> fusedBackward{true};
bool fusedBinaryBackward() { return fusedBackward.load(); }

// bin(W): +1 where W >= 0 (both zeros included), -1 elsewhere; NaN is refused before this runs.
at::Tensor binarySigns(const at::Tensor& w) {
  return at::where(w.ge(0), at::scalar_tensor(1, w.options()), at::scalar_tensor(-1, w.options()));
}

// alpha shaped to broadcast over the weight: [C_out, 1, 1, 1] or a 0-d tensor.
at::Tensor alphaBroadcast(const at::Tensor& alpha, BinaryScale scale) {
  return scale == BinaryScale::Channel ? alpha.view({-1, 1, 1, 1}) : alpha.view(at::IntArrayRef{});
}

// The first non-finite latent weight, as "[o, i, y, x] = nan".
std::string firstNonFinite(const at::Tensor& w) {
  at::Tensor idx = at::nonzero(at::isfinite(w).logical_not());
  if (idx.size(0) == 0) return "?";
  at::Tensor first = idx[0].cpu();
  std::ostringstream s;
  at::Tensor v = w;
  s << "[";
  for (int64_t d = 0; d < first.size(0); ++d) {
    const int64_t i = first[d].item<int64_t>();
    s << (d ? ", " : "") << i;
    v = v.select(0, i);
  }
  s << "] = " << v.item<double>();
  return s.str();
}

void checkFinite(const at::Tensor& w, const at::Tensor& alpha, const std::string& layer) {
  // alpha is a mean of |W|: finite exactly when every weight of its filter is (one value per filter
  // to look at instead of every weight).
  bool ok = alpha.defined() ? at::isfinite(alpha).all().item<bool>() : at::isfinite(w).all().item<bool>();
  if (ok) return;
  throw std::runtime_error("binary conv " + layer + ": the latent weight holds NaN or infinity (first at " + firstNonFinite(w) +
                           "); a diverged run or corrupt weights: it cannot be binarised");
}

// The fused CPU kernels below take contiguous float/double weights on the CPU; anything else
// (channels-last weights, CUDA) runs the same math as ATen ops.
bool fusable(const at::Tensor& w, const at::Tensor& g = {}) {
  auto ok = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.is_contiguous() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble);
  };
  return ok(w) && (!g.defined() || (ok(g) && g.scalar_type() == w.scalar_type()));
}

struct Binarized {
  at::Tensor wb, alpha;
};

// W_b = alpha * bin(W). Fused: one pass writing +alpha_o / -alpha_o, which is alpha_o * (+-1)
// exactly (a multiplication by +-1 only sets the sign).
Binarized binarize(const at::Tensor& w, BinaryScale scale, const std::string& layer) {
  TORCH_CHECK(w.dim() == 4, "binary conv ", layer, ": the weight must be 4-D, got ", w.sizes());
  Binarized r;
  r.alpha = binaryAlpha(w, scale);
  checkFinite(w, r.alpha, layer);
  if (!fusable(w)) {
    at::Tensor s = binarySigns(w);
    r.wb = r.alpha.defined() ? alphaBroadcast(r.alpha, scale) * s : s;
    return r;
  }
  r.wb = at::empty_like(w);
  const int64_t O = w.size(0), n = w.numel() / O;
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "binarize", [&] {
    const scalar_t* wp = w.data_ptr<scalar_t>();
    scalar_t* out = r.wb.data_ptr<scalar_t>();
    const at::Tensor alpha = r.alpha.defined() ? r.alpha.contiguous() : at::Tensor();
    const scalar_t* ap = alpha.defined() ? alpha.data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, O, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const scalar_t a = ap ? ap[scale == BinaryScale::Channel ? o : 0] : scalar_t(1);
        for (int64_t j = o * n; j < (o + 1) * n; ++j) out[j] = wp[j] >= 0 ? a : -a;
      }
    });
  });
  return r;
}

// The STE backward as ATen ops (see the header for the formula).
at::Tensor backwardAten(const at::Tensor& w, const at::Tensor& alpha, const at::Tensor& g, BinaryScale scale, BinarySte ste, bool alphaGrad) {
  // straight-through path: alpha_o g_j, masked to |W_j| <= 1 with 'clip'
  at::Tensor grad = scale == BinaryScale::None ? g : g * alphaBroadcast(alpha, scale);
  if (ste == BinarySte::Clip) grad = at::where(w.abs().le(1), grad, at::scalar_tensor(0, grad.options()));
  if (alphaGrad && scale != BinaryScale::None) {
    // alpha path: d|W_j|/dW_j (abs's convention, 0 at 0) times (1/n) sum over the filter (or the
    // whole tensor for 'layer') of g_i s_i
    at::Tensor gs = g * binarySigns(w);
    at::Tensor meanGs = scale == BinaryScale::Channel ? gs.mean({1, 2, 3}, /*keepdim=*/true) : gs.mean();
    at::Tensor dAbs = at::where(w.gt(0), at::scalar_tensor(1, w.options()),
                                at::where(w.lt(0), at::scalar_tensor(-1, w.options()), at::scalar_tensor(0, w.options())));
    grad = grad + dAbs * meanGs;
  }
  return grad;
}

// The same backward in two passes per filter: sum_i g_i s_i (in double, each filter's sum in
// index order on one thread, so the result does not depend on the thread count), then every
// dL/dW_j. For 'layer' the filters' sums are added in filter order.
at::Tensor backwardFused(const at::Tensor& w, const at::Tensor& alpha, const at::Tensor& g, BinaryScale scale, BinarySte ste, bool alphaGrad) {
  at::Tensor grad = at::empty_like(w);
  const int64_t O = w.size(0), n = w.numel() / O;
  const bool alphaPath = alphaGrad && scale != BinaryScale::None;
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "binarize_backward", [&] {
    const scalar_t* wp = w.data_ptr<scalar_t>();
    const scalar_t* gp = g.data_ptr<scalar_t>();
    scalar_t* out = grad.data_ptr<scalar_t>();
    const at::Tensor a = alpha.defined() ? alpha.contiguous() : at::Tensor();
    const scalar_t* ap = a.defined() ? a.data_ptr<scalar_t>() : nullptr;
    std::vector<double> sums(alphaPath ? O : 0);
    if (alphaPath)
      at::parallel_for(0, O, 1, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) {
          double s = 0;
          for (int64_t j = o * n; j < (o + 1) * n; ++j) s += wp[j] >= 0 ? static_cast<double>(gp[j]) : -static_cast<double>(gp[j]);
          sums[o] = s;
        }
      });
    double layerMean = 0;
    if (alphaPath && scale == BinaryScale::Layer) {
      for (double v : sums) layerMean += v;
      layerMean /= static_cast<double>(w.numel());
    }
    at::parallel_for(0, O, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const scalar_t al = ap ? ap[scale == BinaryScale::Channel ? o : 0] : scalar_t(1);
        const scalar_t m = !alphaPath ? scalar_t(0)
                           : static_cast<scalar_t>(scale == BinaryScale::Layer ? layerMean : sums[o] / static_cast<double>(n));
        for (int64_t j = o * n; j < (o + 1) * n; ++j) {
          const scalar_t wj = wp[j];
          scalar_t v = ste == BinarySte::Clip && std::abs(wj) > 1 ? scalar_t(0) : (scale == BinaryScale::None ? gp[j] : gp[j] * al);
          if (alphaPath) v += wj > 0 ? m : wj < 0 ? -m : scalar_t(0);
          out[j] = v;
        }
      }
    });
  });
  return grad;
}

struct BinarizeWeight : public torch::autograd::Function<BinarizeWeight> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& w, int64_t scale, int64_t ste,
                            bool alphaGrad, const std::string& layer) {
    Binarized b = binarize(w, static_cast<BinaryScale>(scale), layer);
    ctx->save_for_backward({w, b.alpha.defined() ? b.alpha : at::Tensor()});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["ste"] = ste;
    ctx->saved_data["alphaGrad"] = alphaGrad;
    return b.wb;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &w = saved[0], &alpha = saved[1];
    const auto scale = static_cast<BinaryScale>(ctx->saved_data["scale"].toInt());
    const auto ste = static_cast<BinarySte>(ctx->saved_data["ste"].toInt());
    const bool alphaGrad = ctx->saved_data["alphaGrad"].toBool();
    at::Tensor g = grads[0].contiguous();
    at::Tensor grad = fusable(w, g) && fusedBinaryBackward() ? backwardFused(w, alpha, g, scale, ste, alphaGrad)
                                                              : backwardAten(w, alpha, g, scale, ste, alphaGrad);
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

void setFusedBinaryBackward(bool on) { fusedBackward = on; }

at::Tensor binaryAlpha(const at::Tensor& w, BinaryScale scale) {
  if (scale == BinaryScale::Channel) return w.abs().mean({1, 2, 3});
  if (scale == BinaryScale::Layer) return w.abs().mean().view({1});
  return at::Tensor();
}

at::Tensor binarizeWeight(const at::Tensor& w, const BinaryConvOptions& o, const std::string& layer) {
  return BinarizeWeight::apply(w, static_cast<int64_t>(o.scale), static_cast<int64_t>(o.ste), o.alphaGrad, layer);
}

BinaryConv2d::BinaryConv2d(const Conv2dOptions& conv, const BinaryConvOptions& binary, std::string name)
    : Conv2d(conv), b_(binary), name_(std::move(name)) {
  TORCH_CHECK(!conv.bias, "binary conv ", name_, ": a bias is not supported");
  TORCH_CHECK(binary.latentClip >= 0, "binary conv ", name_, ": latentClip must be >= 0 (0 = none)");
}

at::Tensor BinaryConv2d::forward(const at::Tensor& x) {
  const Conv2dOptions& o = options();
  at::Tensor wb = binarizeWeight(weight(), b_, name_);
  return at::conv2d(x, wb, {}, o.stride, o.padding, o.dilation, o.groups);
}

at::Tensor BinaryConv2d::binarizedWeight() {
  at::NoGradGuard noGrad;
  return binarize(weight(), b_.scale, name_).wb;
}

void BinaryConv2d::clampLatent() {
  if (b_.latentClip <= 0) return;
  at::NoGradGuard noGrad;
  weight().clamp_(-b_.latentClip, b_.latentClip);
}

namespace {
void collectBinary(const Module& m, const std::string& prefix, std::vector<std::pair<std::string, BinaryConv2d*>>& out) {
  for (auto& [name, child] : m.children()) {
    std::string path = prefix.empty() ? name : prefix + "." + name;
    if (auto* b = dynamic_cast<BinaryConv2d*>(child.get())) out.emplace_back(path, b);
    collectBinary(*child, path, out);
  }
}
}  // namespace

std::vector<std::pair<std::string, BinaryConv2d*>> binaryConvs(const Module& root) {
  std::vector<std::pair<std::string, BinaryConv2d*>> out;
  collectBinary(root, "", out);
  return out;
}

}  // namespace autospeech::nn
