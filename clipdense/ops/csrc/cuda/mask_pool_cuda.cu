// Mask pooling weights on CUDA: one block per (image, mask) computes the mask resized to the
// feature grid on the fly (4 mask reads per feature pixel; the full-resolution mask is never
// converted or copied), reduces its sum, then writes mask / (sum + eps). The pooling itself is a
// batched GEMM over these weights (ops.cpp).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../common.h"
#include "../ops.h"
#include "cuda_utils.cuh"

namespace clipdense {
namespace {

template <typename T, typename M>
__device__ __forceinline__ T resized_mask(const M* __restrict__ m, int k, int H, int W, int h,
                                          int w) {
  int yi[2], xi[2];
  T wy[2], wx[2];
  linear_taps<T>(k / w, H, h, yi, wy);
  linear_taps<T>(k % w, W, w, xi, wx);
  const M* r0 = m + int64_t(yi[0]) * W;
  const M* r1 = m + int64_t(yi[1]) * W;
  return wy[0] * (wx[0] * mask_value<T>(r0[xi[0]]) + wx[1] * mask_value<T>(r0[xi[1]])) +
         wy[1] * (wx[0] * mask_value<T>(r1[xi[0]]) + wx[1] * mask_value<T>(r1[xi[1]]));
}

template <typename T>
__device__ T block_sum(T v) {
  __shared__ T partial[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  T total = T(0);
  for (int i = 0; i < kThreads / 32; ++i) total += partial[i];
  return total;
}

template <typename out_t, typename T, typename M>
__global__ void __launch_bounds__(kThreads)
    mask_pool_weights_kernel(const M* __restrict__ masks, int64_t Q, int H, int W, int64_t q0,
                             int64_t qc, int h, int w, T eps, out_t* __restrict__ weights,
                             T* __restrict__ den) {
  const int64_t i = blockIdx.x;
  const int64_t b = i / qc, q = q0 + i % qc;
  const M* m = masks + (b * Q + q) * int64_t(H) * W;
  const int hw = h * w;
  T sum = T(0);
  for (int k = threadIdx.x; k < hw; k += kThreads) sum += resized_mask<T>(m, k, H, W, h, w);
  sum = block_sum(sum);
  if (threadIdx.x == 0) den[b * Q + q] = sum;
  const T inv = T(1) / (sum + eps);
  out_t* o = weights + i * hw;
  for (int k = threadIdx.x; k < hw; k += kThreads)
    o[k] = static_cast<out_t>(resized_mask<T>(m, k, H, W, h, w) * inv);
}

}  // namespace

void mask_pool_weights_cuda(const at::Tensor& masks, int64_t q0, double eps, at::Tensor& weights,
                            at::Tensor& den) {
  const c10::cuda::CUDAGuard guard(masks.device());
  const int64_t B = masks.size(0), Q = masks.size(1), H = masks.size(2), W = masks.size(3);
  const int64_t qc = weights.size(1), h = weights.size(2), w = weights.size(3);
  const auto mt = masks.scalar_type();  // bool/uint8/float/double, checked by the dispatcher
  auto stream = at::cuda::getCurrentCUDAStream();
  const unsigned int blocks = static_cast<unsigned int>(B * qc);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, weights.scalar_type(), "mask_pool_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    scalar_t* o = weights.data_ptr<scalar_t>();
    T* d = den.data_ptr<T>();
    const int iH = static_cast<int>(H), iW = static_cast<int>(W), ih = static_cast<int>(h),
              iw = static_cast<int>(w);
    if (mt == at::kFloat) {
      mask_pool_weights_kernel<scalar_t, T><<<blocks, kThreads, 0, stream>>>(
          masks.data_ptr<float>(), Q, iH, iW, q0, qc, ih, iw, static_cast<T>(eps), o, d);
    } else if (mt == at::kDouble) {
      mask_pool_weights_kernel<scalar_t, T><<<blocks, kThreads, 0, stream>>>(
          masks.data_ptr<double>(), Q, iH, iW, q0, qc, ih, iw, static_cast<T>(eps), o, d);
    } else {
      mask_pool_weights_kernel<scalar_t, T><<<blocks, kThreads, 0, stream>>>(
          static_cast<const uint8_t*>(masks.data_ptr()), Q, iH, iW, q0, qc, ih, iw,
          static_cast<T>(eps), o, d);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace clipdense
