#include "features/resample.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

namespace autospeech::features {
namespace {

constexpr int kZeros = 50;
constexpr int64_t kTable = 1 << 13;  // entries per zero crossing
constexpr double kRolloff = 0.917347;
constexpr double kBeta = 12.9846;

// The right wing of the filter: rolloff * sinc(rolloff * t) * kaiser(t), t in [0, kZeros].
const std::vector<double>& halfWindow() {
  static std::vector<double> w;
  static std::once_flag once;
  std::call_once(once, [] {
    const int64_t n = kTable * kZeros;
    w.resize(static_cast<size_t>(n + 1));
    const double i0beta = std::cyl_bessel_i(0.0, kBeta);
    for (int64_t k = 0; k <= n; ++k) {
      const double t = static_cast<double>(k) * kZeros / static_cast<double>(n);  // linspace(0, zeros, n + 1)
      const double arg = M_PI * kRolloff * t;
      const double sinc = k == 0 ? 1.0 : std::sin(arg) / arg;
      // symmetric Kaiser window of length 2n + 1, right half: position n + k
      const double r = static_cast<double>(k) / static_cast<double>(n);
      const double taper = std::cyl_bessel_i(0.0, kBeta * std::sqrt(std::max(0.0, 1.0 - r * r))) / i0beta;
      w[static_cast<size_t>(k)] = taper * kRolloff * sinc;
    }
  });
  return w;
}

// The interpolation table and its deltas for a rate ratio: resampy scales the window by the ratio
// when downsampling, then takes np.diff(append=last). Built once per ratio (a file list usually has
// one or two rates) instead of copying, scaling and differencing 3.2 MB on every call.
struct Tables {
  std::vector<double> win, delta;
};

std::shared_ptr<const Tables> tablesFor(double ratio) {
  static std::mutex mutex;
  static std::map<double, std::shared_ptr<const Tables>> cache;
  const double key = ratio < 1 ? ratio : 1.0;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[key];
  if (!slot) {
    auto t = std::make_shared<Tables>();
    t->win = halfWindow();
    if (ratio < 1)
      for (auto& v : t->win) v *= ratio;
    t->delta.resize(t->win.size());
    for (size_t k = 0; k + 1 < t->win.size(); ++k) t->delta[k] = t->win[k + 1] - t->win[k];
    t->delta.back() = 0.0;  // np.diff(append=win[-1])
    slot = std::move(t);
  }
  return slot;
}

}  // namespace

std::vector<float> resampleKaiserBest(const float* x, int64_t n, int64_t fromRate, int64_t toRate) {
  if (fromRate <= 0 || toRate <= 0) throw std::invalid_argument("resample: sample rates must be positive");
  if (fromRate == toRate) return std::vector<float>(x, x + n);
  const double ratio = static_cast<double>(toRate) / static_cast<double>(fromRate);
  const int64_t nOut = static_cast<int64_t>(static_cast<double>(n) * static_cast<double>(toRate) / static_cast<double>(fromRate));
  if (nOut < 1) throw std::invalid_argument("resample: " + std::to_string(n) + " samples are too few to resample from " +
                                            std::to_string(fromRate) + " to " + std::to_string(toRate) + " Hz");
  const std::shared_ptr<const Tables> tables = tablesFor(ratio);
  const std::vector<double>& win = tables->win;
  const std::vector<double>& delta = tables->delta;
  const double scale = std::min(1.0, ratio), increment = 1.0 / ratio;
  const int64_t step = static_cast<int64_t>(scale * kTable), nwin = static_cast<int64_t>(win.size());
  const int64_t outLen = static_cast<int64_t>(std::ceil(static_cast<double>(n) * ratio));
  std::vector<float> y(static_cast<size_t>(std::max(outLen, nOut)), 0.f);
  for (int64_t t = 0; t < nOut; ++t) {
    const double time = static_cast<double>(t) * increment;
    const int64_t i0 = static_cast<int64_t>(time);
    double frac = scale * (time - static_cast<double>(i0));
    double indexFrac = frac * kTable;
    int64_t offset = static_cast<int64_t>(indexFrac);
    double eta = indexFrac - static_cast<double>(offset);
    float acc = 0.f;  // resampy accumulates into the float32 output, one tap at a time
    const int64_t iMax = std::min(i0 + 1, (nwin - offset) / step);
    for (int64_t i = 0; i < iMax; ++i) {
      const double w = win[offset + i * step] + eta * delta[offset + i * step];
      acc = static_cast<float>(static_cast<double>(acc) + w * static_cast<double>(x[i0 - i]));
    }
    frac = scale - frac;
    indexFrac = frac * kTable;
    offset = static_cast<int64_t>(indexFrac);
    eta = indexFrac - static_cast<double>(offset);
    const int64_t kMax = std::min(n - i0 - 1, (nwin - offset) / step);
    for (int64_t k = 0; k < kMax; ++k) {
      const double w = win[offset + k * step] + eta * delta[offset + k * step];
      acc = static_cast<float>(static_cast<double>(acc) + w * static_cast<double>(x[i0 + k + 1]));
    }
    y[static_cast<size_t>(t)] = acc;
  }
  y.resize(static_cast<size_t>(outLen));  // fix_length: pad with zeros (or trim) to ceil(n * ratio)
  return y;
}

}  // namespace autospeech::features
