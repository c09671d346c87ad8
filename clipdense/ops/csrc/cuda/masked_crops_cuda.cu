// Masked region crops on CUDA: a tight-box reduction over all masks, then one thread per output
// pixel of every region (all channels), reading the 4x4 (bicubic) or 2x2 (bilinear) source taps
// of the filled image directly; no per-region launches and no intermediate crops.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <type_traits>

#include "../common.h"
#include "../ops.h"
#include "cuda_utils.cuh"

namespace clipdense {
namespace {

constexpr int kPixelsPerThread = 8;

// boxes (Q, 4) start at -1 and receive maxima of (W-1-x, H-1-y, x, y) over on pixels.
template <typename M>
__global__ void tight_boxes_kernel(const M* __restrict__ masks, int64_t HW, int H, int W,
                                   int32_t* __restrict__ boxes) {
  const int64_t q = blockIdx.x;
  const M* m = masks + q * HW;
  int v[4] = {-1, -1, -1, -1};
  for (int64_t k = blockIdx.y * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < HW;
       k += static_cast<int64_t>(blockDim.x) * gridDim.y) {
    if (mask_on(m[k])) {
      const int y = static_cast<int>(k / W), x = static_cast<int>(k % W);
      v[0] = max(v[0], W - 1 - x);
      v[1] = max(v[1], H - 1 - y);
      v[2] = max(v[2], x);
      v[3] = max(v[3], y);
    }
  }
  for (int j = 0; j < 4; ++j)
    for (int off = 16; off > 0; off >>= 1) v[j] = max(v[j], __shfl_xor_sync(0xffffffffu, v[j], off));
  if (threadIdx.x % 32 == 0 && v[3] >= 0)
    for (int j = 0; j < 4; ++j) atomicMax(boxes + q * 4 + j, v[j]);
}

template <typename scalar_t, typename out_t, typename M>
__global__ void crops_kernel(const scalar_t* __restrict__ image, const M* __restrict__ masks,
                             const int32_t* __restrict__ tight, const double* __restrict__ boxes,
                             int64_t Q, int C, int H, int W, int S, CropParams p,
                             double expand_ratio, bool cubic, out_t* __restrict__ out,
                             bool* __restrict__ valid) {
  using T = at::opmath_type<out_t>;
  const int64_t plane = int64_t(S) * S, HW = int64_t(H) * W;
  CD_KERNEL_LOOP(idx, Q * plane) {
    const int64_t q = idx / plane;
    const int oy = static_cast<int>((idx % plane) / S), ox = static_cast<int>(idx % S);
    int box[4];
    const bool ok = region_crop_box(tight, boxes, q, expand_ratio, W, H, box);
    if (oy == 0 && ox == 0) valid[q] = ok;
    out_t* o = out + q * C * plane + int64_t(oy) * S + ox;
    if (!ok) {
      for (int c = 0; c < C; ++c) o[c * plane] = static_cast<out_t>((p.fill[c] - p.mean[c]) / p.std[c]);
      continue;
    }
    const int crop_w = box[2] - box[0], crop_h = box[3] - box[1];
    int yi[4], xi[4];
    T wy[4], wx[4];
    int taps;
    if (cubic) {
      cubic_taps<T>(oy, crop_h, S, yi, wy);
      cubic_taps<T>(ox, crop_w, S, xi, wx);
      taps = 4;
    } else {
      linear_taps<T>(oy, crop_h, S, yi, wy);
      linear_taps<T>(ox, crop_w, S, xi, wx);
      taps = 2;
    }
    const M* m = masks + q * HW;
    T acc[kMaxCropChannels];
    for (int c = 0; c < C; ++c) acc[c] = T(0);
    for (int a = 0; a < taps; ++a) {
      const int64_t row = int64_t(box[1] + yi[a]) * W + box[0];
      for (int b = 0; b < taps; ++b) {
        const int64_t off = row + xi[b];
        const T w = wy[a] * wx[b];
        if (mask_on(m[off])) {
          for (int c = 0; c < C; ++c) acc[c] += w * static_cast<T>(image[c * HW + off]);
        } else {
          for (int c = 0; c < C; ++c) acc[c] += w * static_cast<T>(p.fill[c]);
        }
      }
    }
    for (int c = 0; c < C; ++c)
      o[c * plane] = static_cast<out_t>((acc[c] - static_cast<T>(p.mean[c])) / static_cast<T>(p.std[c]));
  }
}

template <typename scalar_t, typename M>
void launch(const at::Tensor& image, const M* masks, const at::Tensor& boxes, int64_t Q,
            int64_t size, const CropParams& p, double expand_ratio, bool cubic, at::Tensor& tight,
            at::Tensor& out, at::Tensor& valid, cudaStream_t stream) {
  using out_t = std::conditional_t<std::is_same_v<scalar_t, uint8_t>, float, scalar_t>;
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2), HW = H * W;
  const int64_t chunks = std::min<int64_t>((HW + kThreads * kPixelsPerThread - 1) /
                                               (kThreads * kPixelsPerThread), 65535);
  tight_boxes_kernel<<<dim3(static_cast<unsigned int>(Q), static_cast<unsigned int>(std::max<int64_t>(chunks, 1))),
                       kThreads, 0, stream>>>(masks, HW, static_cast<int>(H), static_cast<int>(W),
                                              tight.data_ptr<int32_t>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t total = Q * size * size;
  crops_kernel<<<blocks_for(total), kThreads, 0, stream>>>(
      image.data_ptr<scalar_t>(), masks, tight.data_ptr<int32_t>(),
      boxes.defined() ? boxes.data_ptr<double>() : nullptr, Q, static_cast<int>(C),
      static_cast<int>(H), static_cast<int>(W), static_cast<int>(size), p, expand_ratio, cubic,
      out.data_ptr<out_t>(), valid.data_ptr<bool>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> masked_crops_cuda(const at::Tensor& image,
                                                     const at::Tensor& masks,
                                                     const at::Tensor& boxes, int64_t size,
                                                     const std::vector<double>& mean,
                                                     const std::vector<double>& std,
                                                     const std::vector<double>& fill,
                                                     double expand_ratio, bool cubic) {
  const c10::cuda::CUDAGuard guard(image.device());
  const int64_t C = image.size(0), Q = masks.size(0);
  const auto out_type = at::isFloatingType(image.scalar_type()) ? image.scalar_type() : at::kFloat;
  at::Tensor out = at::empty({Q, C, size, size}, image.options().dtype(out_type));
  at::Tensor valid = at::empty({Q}, image.options().dtype(at::kBool));
  if (Q == 0) return {out, valid};
  TORCH_CHECK(Q <= int64_t(INT32_MAX), "masked_crops: too many masks");
  at::Tensor tight = at::full({Q, 4}, -1, image.options().dtype(at::kInt));
  const CropParams p = make_crop_params(mean, std, fill);
  const bool float_masks = masks.scalar_type() == at::kFloat;
  TORCH_CHECK(float_masks || masks.scalar_type() == at::kBool || masks.scalar_type() == at::kByte,
              "masked_crops: masks must be bool, uint8 or float32");
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND3(at::kHalf, at::kBFloat16, at::kByte, image.scalar_type(), "masked_crops_cuda", [&] {
    if (float_masks)
      launch<scalar_t>(image, masks.data_ptr<float>(), boxes, Q, size, p, expand_ratio, cubic,
                       tight, out, valid, stream);
    else
      launch<scalar_t>(image, static_cast<const uint8_t*>(masks.data_ptr()), boxes, Q, size, p,
                       expand_ratio, cubic, tight, out, valid, stream);
  });
  return {out, valid};
}

}  // namespace clipdense
