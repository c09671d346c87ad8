// Mask pooling weights on CPU: each mask is resized to the feature grid on the fly (4 reads per
// feature pixel, the full-resolution mask is never converted) and normalised by its sum.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common.h"
#include "../ops.h"

namespace clipdense {
namespace {

template <typename out_t, typename M>
void weights_kernel(const M* masks, int64_t B, int64_t Q, int64_t H, int64_t W, int64_t q0,
                    int64_t qc, int64_t h, int64_t w, double eps, out_t* weights,
                    at::opmath_type<out_t>* den) {
  using T = at::opmath_type<out_t>;
  std::vector<int> yi(2 * h), xi(2 * w);
  std::vector<T> wy(2 * h), wx(2 * w);
  for (int64_t y = 0; y < h; ++y) linear_taps<T>(y, H, h, &yi[2 * y], &wy[2 * y]);
  for (int64_t x = 0; x < w; ++x) linear_taps<T>(x, W, w, &xi[2 * x], &wx[2 * x]);
  at::parallel_for(0, B * qc, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> buf(h * w);
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / qc, q = q0 + i % qc;
      const M* m = masks + (b * Q + q) * H * W;
      T sum = 0;
      for (int64_t y = 0; y < h; ++y) {
        const M* r0 = m + yi[2 * y] * W;
        const M* r1 = m + yi[2 * y + 1] * W;
        const T a0 = wy[2 * y], a1 = wy[2 * y + 1];
        T* dst = buf.data() + y * w;
        for (int64_t x = 0; x < w; ++x) {
          const int x0 = xi[2 * x], x1 = xi[2 * x + 1];
          const T v = a0 * (wx[2 * x] * mask_value<T>(r0[x0]) + wx[2 * x + 1] * mask_value<T>(r0[x1])) +
                      a1 * (wx[2 * x] * mask_value<T>(r1[x0]) + wx[2 * x + 1] * mask_value<T>(r1[x1]));
          dst[x] = v;
          sum += v;
        }
      }
      den[b * Q + q] = sum;
      const T inv = T(1) / (sum + static_cast<T>(eps));
      out_t* o = weights + i * h * w;
      for (int64_t k = 0; k < h * w; ++k) o[k] = static_cast<out_t>(buf[k] * inv);
    }
  });
}

}  // namespace

void mask_pool_weights_cpu(const at::Tensor& masks, int64_t q0, double eps, at::Tensor& weights,
                           at::Tensor& den) {
  const int64_t B = masks.size(0), Q = masks.size(1), H = masks.size(2), W = masks.size(3);
  const int64_t qc = weights.size(1), h = weights.size(2), w = weights.size(3);
  const auto mt = masks.scalar_type();  // bool/uint8/float/double, checked by the dispatcher
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weights.scalar_type(), "mask_pool_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    scalar_t* o = weights.data_ptr<scalar_t>();
    T* d = den.data_ptr<T>();
    if (mt == at::kFloat)
      weights_kernel(masks.data_ptr<float>(), B, Q, H, W, q0, qc, h, w, eps, o, d);
    else if (mt == at::kDouble)
      weights_kernel(masks.data_ptr<double>(), B, Q, H, W, q0, qc, h, w, eps, o, d);
    else
      weights_kernel(static_cast<const uint8_t*>(masks.data_ptr()), B, Q, H, W, q0, qc, h, w, eps, o, d);
  });
}

}  // namespace clipdense
