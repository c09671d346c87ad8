// Kernel entry points of clipdense.ops._ext. Inputs are validated in Python; the TORCH_CHECKs in
// ops.cpp only guard the C++ contracts.
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

#include "common.h"

namespace clipdense {

// input (N, C, H, W) NCHW- or channels-last-contiguous, rois (K, 5) contiguous in the accumulate
// type of input -> (K, C, PH, PW) in input's memory format.
at::Tensor roi_align_forward_cpu(const at::Tensor& input, const at::Tensor& rois, double scale,
                                 int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                 bool aligned);
// grad (K, C, PH, PW) -> grad_input (N, C, H, W), channels-last when `channels_last`.
at::Tensor roi_align_backward_cpu(const at::Tensor& grad, const at::Tensor& rois, double scale,
                                  int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                  bool aligned, int64_t batch, int64_t height, int64_t width,
                                  bool channels_last);

// Writes masks[:, q0:q0+Qc] bilinearly resized to (h, w) and divided by (sum + eps) into
// `weights` (B, Qc, h, w), and the sums into den[:, q0:q0+Qc].
void mask_pool_weights_cpu(const at::Tensor& masks, int64_t q0, double eps, at::Tensor& weights,
                           at::Tensor& den);

// image (C, H, W), masks (Q, H, W) uint8/float, boxes (Q, 4) float64 or undefined.
std::tuple<at::Tensor, at::Tensor> masked_crops_cpu(const at::Tensor& image, const at::Tensor& masks,
                                                    const at::Tensor& boxes, int64_t size,
                                                    const std::vector<double>& mean,
                                                    const std::vector<double>& std,
                                                    const std::vector<double>& fill,
                                                    double expand_ratio, bool cubic);

#ifdef WITH_CUDA
at::Tensor roi_align_forward_cuda(const at::Tensor& input, const at::Tensor& rois, double scale,
                                  int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                  bool aligned);
at::Tensor roi_align_backward_cuda(const at::Tensor& grad, const at::Tensor& rois, double scale,
                                   int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                   bool aligned, int64_t batch, int64_t height, int64_t width,
                                   bool channels_last);
void mask_pool_weights_cuda(const at::Tensor& masks, int64_t q0, double eps, at::Tensor& weights,
                            at::Tensor& den);
std::tuple<at::Tensor, at::Tensor> masked_crops_cuda(const at::Tensor& image,
                                                     const at::Tensor& masks,
                                                     const at::Tensor& boxes, int64_t size,
                                                     const std::vector<double>& mean,
                                                     const std::vector<double>& std,
                                                     const std::vector<double>& fill,
                                                     double expand_ratio, bool cubic);
#endif

inline CropParams make_crop_params(const std::vector<double>& mean, const std::vector<double>& std,
                                   const std::vector<double>& fill) {
  CropParams p{};
  for (size_t c = 0; c < mean.size() && c < size_t(kMaxCropChannels); ++c) {
    p.mean[c] = static_cast<float>(mean[c]);
    p.std[c] = static_cast<float>(std[c]);
    p.fill[c] = static_cast<float>(fill[c]);
  }
  return p;
}

}  // namespace clipdense
