// RoIAlign on CUDA. Forward: one thread per output element, ordered like the output's memory
// (channels fastest for channels-last, so a warp reads 32 adjacent channels of one pixel).
// Backward: one thread per (roi, bin, channel) with channels fastest, scattering the merged
// per-pixel taps (see for_each_tap) into a float32/float64 channels-last buffer: each warp's
// atomics hit 32 consecutive addresses (one coalesced transaction instead of 32 scattered ones)
// and a pixel shared by several samples of a bin gets one atomic, not one per sample corner.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../common.h"
#include "../ops.h"
#include "cuda_utils.cuh"

namespace clipdense {
namespace {

template <typename scalar_t, typename T, bool kChannelsLast>
__global__ void roi_align_forward_kernel(const scalar_t* __restrict__ input,
                                         const T* __restrict__ rois, scalar_t* __restrict__ out,
                                         int64_t total, int64_t batch, int64_t C, int H, int W,
                                         int PH, int PW, T scale, int sampling_ratio,
                                         bool aligned) {
  CD_KERNEL_LOOP(idx, total) {
    int64_t c, n, t;
    int ph, pw;
    if (kChannelsLast) {
      c = idx % C;
      t = idx / C;
      pw = static_cast<int>(t % PW);
      t /= PW;
      ph = static_cast<int>(t % PH);
      n = t / PH;
    } else {
      pw = static_cast<int>(idx % PW);
      t = idx / PW;
      ph = static_cast<int>(t % PH);
      t /= PH;
      c = t % C;
      n = t / C;
    }
    const T* r = rois + n * 5;
    const auto b = static_cast<int64_t>(r[0]);
    if (b < 0 || b >= batch) {
      out[idx] = static_cast<scalar_t>(0);
      continue;
    }
    const RoIAxis<T> ay = roi_axis<T>(r[2], r[4], scale, PH, sampling_ratio, aligned);
    const RoIAxis<T> ax = roi_axis<T>(r[1], r[3], scale, PW, sampling_ratio, aligned);
    const scalar_t* base;
    int64_t sy, sx;
    if (kChannelsLast) {
      base = input + b * H * W * C + c;
      sy = int64_t(W) * C;
      sx = C;
    } else {
      base = input + (b * C + c) * H * W;
      sy = W;
      sx = 1;
    }
    const T x_start = ax.start + static_cast<T>(pw) * ax.bin;
    T acc = T(0);
    for_each_tap(ay.start + static_cast<T>(ph) * ay.bin, ay.bin, ay.grid, H, [&](int y, T wy) {
      const scalar_t* row = base + y * sy;
      T racc = T(0);
      for_each_tap(x_start, ax.bin, ax.grid, W,
                   [&](int x, T wx) { racc += wx * static_cast<T>(row[x * sx]); });
      acc += wy * racc;
    });
    out[idx] = static_cast<scalar_t>(acc);
  }
}

// grad: (K, PH, PW, C) contiguous; grad_input: (N, H, W, C) accumulate type, zero-initialised.
template <typename scalar_t, typename T>
__global__ void roi_align_backward_kernel(const scalar_t* __restrict__ grad,
                                          const T* __restrict__ rois, T* __restrict__ grad_input,
                                          int64_t total, int64_t batch, int64_t C, int H, int W,
                                          int PH, int PW, T scale, int sampling_ratio,
                                          bool aligned) {
  CD_KERNEL_LOOP(idx, total) {
    const T g = static_cast<T>(grad[idx]);
    if (g == T(0)) continue;
    const int64_t c = idx % C;
    int64_t t = idx / C;
    const int pw = static_cast<int>(t % PW);
    t /= PW;
    const int ph = static_cast<int>(t % PH);
    const int64_t n = t / PH;
    const T* r = rois + n * 5;
    const auto b = static_cast<int64_t>(r[0]);
    if (b < 0 || b >= batch) continue;
    const RoIAxis<T> ay = roi_axis<T>(r[2], r[4], scale, PH, sampling_ratio, aligned);
    const RoIAxis<T> ax = roi_axis<T>(r[1], r[3], scale, PW, sampling_ratio, aligned);
    T* base = grad_input + b * H * W * C + c;
    const T x_start = ax.start + static_cast<T>(pw) * ax.bin;
    for_each_tap(ay.start + static_cast<T>(ph) * ay.bin, ay.bin, ay.grid, H, [&](int y, T wy) {
      T* row = base + int64_t(y) * W * C;
      const T gy = g * wy;
      for_each_tap(x_start, ax.bin, ax.grid, W,
                   [&](int x, T wx) { atomicAdd(row + int64_t(x) * C, gy * wx); });
    });
  }
}

}  // namespace

at::Tensor roi_align_forward_cuda(const at::Tensor& input, const at::Tensor& rois, double scale,
                                  int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                  bool aligned) {
  const c10::cuda::CUDAGuard guard(input.device());
  const bool cl = !input.is_contiguous();  // ops.cpp passes NCHW- or channels-last-contiguous
  const int64_t N = input.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  at::Tensor out = at::empty(
      {rois.size(0), C, pooled_h, pooled_w},
      input.options().memory_format(cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
  const int64_t total = out.numel();
  if (total == 0) return out;
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "roi_align_cuda", [&] {
    using T = at::opmath_type<scalar_t>;
    const auto kernel = cl ? roi_align_forward_kernel<scalar_t, T, true>
                           : roi_align_forward_kernel<scalar_t, T, false>;
    kernel<<<blocks_for(total), kThreads, 0, stream>>>(
        input.data_ptr<scalar_t>(), rois.data_ptr<T>(), out.data_ptr<scalar_t>(), total, N, C,
        static_cast<int>(H), static_cast<int>(W), static_cast<int>(pooled_h),
        static_cast<int>(pooled_w), static_cast<T>(scale), static_cast<int>(sampling_ratio),
        aligned);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor roi_align_backward_cuda(const at::Tensor& grad, const at::Tensor& rois, double scale,
                                   int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                   bool aligned, int64_t batch, int64_t height, int64_t width,
                                   bool channels_last) {
  const c10::cuda::CUDAGuard guard(grad.device());
  const int64_t C = grad.size(1);
  at::Tensor buf = at::zeros({batch, height, width, C}, grad.options().dtype(rois.scalar_type()));
  const at::Tensor go = grad.permute({0, 2, 3, 1}).contiguous();  // (K, PH, PW, C)
  const int64_t total = go.numel();
  if (total > 0 && buf.numel() > 0) {
    auto stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "roi_align_cuda_bwd", [&] {
      using T = at::opmath_type<scalar_t>;
      roi_align_backward_kernel<scalar_t, T><<<blocks_for(total), kThreads, 0, stream>>>(
          go.data_ptr<scalar_t>(), rois.data_ptr<T>(), buf.data_ptr<T>(), total, batch, C,
          static_cast<int>(height), static_cast<int>(width), static_cast<int>(pooled_h),
          static_cast<int>(pooled_w), static_cast<T>(scale), static_cast<int>(sampling_ratio),
          aligned);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  const at::Tensor nchw = buf.permute({0, 3, 1, 2});  // a channels-last view
  return nchw.to(grad.scalar_type(), false, false,
                 channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous);
}

}  // namespace clipdense
