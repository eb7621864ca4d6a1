#include "train/fused_adam.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <cmath>

#include "nn/native_kernels.h"
#include "nn/self_check.h"
#include "system/cpu_features.h"

namespace autospeech::train {
namespace {

// Which multiply-adds ATen's build fused (found by the self-check).
struct Variant {
  bool fusedWeightDecay, fusedMoment1, fusedMoment2;
};

struct Floats {  // each scalar as its op converts it
  float b1, oneMinusB1, b2, oneMinusB2, eps, wd, bc2Sqrt, negStep;
};

template <typename Fma>
inline __attribute__((always_inline)) void update(Fma fma, float* p, const float* g0, float* m, float* v, int64_t n,
                                                  const Floats& f, bool decay, Variant var) {
  for (int64_t i = 0; i < n; ++i) {
    float g = g0[i];
    if (decay) g = var.fusedWeightDecay ? fma(p[i], f.wd, g) : g + f.wd * p[i];       // grad.add(p, wd)
    float mi = m[i] * f.b1;                                                              // exp_avg.mul_(b1)
    mi = var.fusedMoment1 ? fma(g, f.oneMinusB1, mi) : mi + f.oneMinusB1 * g;           // .add_(g, 1 - b1)
    float vi = v[i] * f.b2;                                                              // exp_avg_sq.mul_(b2)
    vi = var.fusedMoment2 ? fma(f.oneMinusB2 * g, g, vi) : vi + f.oneMinusB2 * g * g;   // .addcmul_(g, g, 1 - b2)
    const float denom = std::sqrt(vi) / f.bc2Sqrt + f.eps;                               // (sqrt / bc2) .add_(eps)
    p[i] = p[i] + f.negStep * mi / denom;                                                // p.addcdiv_(m, denom, -step)
    m[i] = mi;
    v[i] = vi;
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void updateAvx2(float* p, const float* g, float* m, float* v, int64_t n,
                                                     const Floats& f, bool decay, Variant var) {
  update([](float a, float b, float c) { return __builtin_fmaf(a, b, c); }, p, g, m, v, n, f, decay, var);
}
#endif

void updateRange(float* p, const float* g, float* m, float* v, int64_t n, const Floats& f, bool decay, Variant var) {
#if defined(__x86_64__)
  if (cpuHasAvx2Fma()) return updateAvx2(p, g, m, v, n, f, decay, var);
#endif
  update([](float a, float b, float c) { return std::fma(a, b, c); }, p, g, m, v, n, f, decay, var);
}

Floats floatsOf(const AdamScalars& s) {
  return {static_cast<float>(s.beta1), static_cast<float>(1 - s.beta1), static_cast<float>(s.beta2),
          static_cast<float>(1 - s.beta2), static_cast<float>(s.eps), static_cast<float>(s.weightDecay),
          static_cast<float>(s.biasCorrection2Sqrt), static_cast<float>(-s.stepSize)};
}

bool applicable(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  auto ok = [&](const at::Tensor& t) {
    return t.defined() && t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous() && t.sizes() == p.sizes();
  };
  return ok(p) && ok(g) && ok(m) && ok(v);
}

void run(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v, const AdamScalars& s, Variant var) {
  const Floats f = floatsOf(s);
  const bool decay = s.weightDecay != 0;
  float *pp = p.data_ptr<float>(), *pm = m.data_ptr<float>(), *pv = v.data_ptr<float>();
  const float* pg = g.data_ptr<float>();
  at::parallel_for(0, p.numel(), 16384, [&](int64_t b, int64_t e) {
    updateRange(pp + b, pg + b, pm + b, pv + b, e - b, f, decay, var);
  });
}

// ATen's ops: torch.optim.Adam's update as written (the fallback, and what the self-check matches).
void atenStep(at::Tensor& p, at::Tensor grad, at::Tensor& m, at::Tensor& v, const AdamScalars& s) {
  if (s.weightDecay != 0) grad = grad.add(p, s.weightDecay);
  m.mul_(s.beta1).add_(grad, 1 - s.beta1);
  v.mul_(s.beta2).addcmul_(grad, grad, 1 - s.beta2);
  at::Tensor denom = (v.sqrt() / s.biasCorrection2Sqrt).add_(s.eps);
  p.addcdiv_(m, denom, -s.stepSize);
}

// ---- self-check ----
nn::SelfCheck check;
Variant found{true, true, true};

bool agrees(Variant var, int64_t n, double wd, int steps) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11 + n);
  at::Tensor p1 = at::randn({n}, gen), p2 = p1.clone();
  at::Tensor m1 = at::zeros({n}), m2 = m1.clone(), v1 = at::zeros({n}), v2 = v1.clone();
  for (int step = 1; step <= steps; ++step) {
    const at::Tensor g = at::randn({n}, gen).mul_(step == 2 ? 1e-3 : 1.0);
    const double bc1 = 1 - std::pow(0.9, step), bc2 = 1 - std::pow(0.999, step);
    const AdamScalars s{0.9, 0.999, 1e-8, wd, std::sqrt(bc2), 1e-3 / bc1};
    atenStep(p1, g, m1, v1, s);
    run(p2, g, m2, v2, s, var);
  }
  return at::equal(p1, p2) && at::equal(m1, m2) && at::equal(v1, v2);
}

bool verified() {
  return check.passed([] {
    at::NoGradGuard noGrad;
    for (bool wd : {true, false})
      for (bool m1 : {true, false})
        for (bool m2 : {true, false}) {
          const Variant var{wd, m1, m2};
          // sizes with vector tails, and one over ATen's parallel grain (tails at thread boundaries)
          if (agrees(var, 37, 3e-4, 3) && agrees(var, 1000, 0, 3) && agrees(var, 16, 1e-2, 2) &&
              agrees(var, 100003, 3e-4, 3)) {
            found = var;
            return true;
          }
        }
    return false;
  });
}

}  // namespace

void adamUpdate(at::Tensor& p, const at::Tensor& grad, at::Tensor& expAvg, at::Tensor& expAvgSq, const AdamScalars& s) {
  if (!nn::nativeKernelsEnabled() || !applicable(p, grad, expAvg, expAvgSq) || !verified()) return atenStep(p, grad, expAvg, expAvgSq, s);
  RECORD_FUNCTION("autospeech::fused_adam", std::vector<c10::IValue>());
  run(p, grad, expAvg, expAvgSq, s, found);
}

std::string fusedAdamStatus() {
  if (!nn::nativeKernelsEnabled()) return "off";
  return check.status(std::string("native (verified; ATen's build ") + (found.fusedWeightDecay ? "fuses" : "does not fuse") +
                      " g + wd * p, " + (found.fusedMoment1 ? "fuses" : "does not fuse") + " the first moment, " +
                      (found.fusedMoment2 ? "fuses" : "does not fuse") + " the second)");
}

std::string verifyFusedAdam() {
  if (nn::nativeKernelsEnabled()) verified();
  return fusedAdamStatus();
}

}  // namespace autospeech::train
