// Python bindings of clipdense.ops._ext: device dispatch, contract checks, and the device-agnostic
// parts of mask pooling (the weight kernel is per device, the contraction is a batched GEMM).
#include <torch/extension.h>

#include <algorithm>

#include "common.h"
#include "ops.h"

namespace clipdense {
namespace {

bool with_cuda() {
#ifdef WITH_CUDA
  return true;
#else
  return false;
#endif
}

void check_device(const at::Tensor& t, const char* op) {
  if (t.is_cuda()) {
    TORCH_CHECK(with_cuda(), op, ": clipdense.ops was built without CUDA kernels; reinstall with "
                "CUDA available (or FORCE_CUDA=1): pip install --no-build-isolation -e .");
  } else {
    TORCH_CHECK(t.device().is_cpu(), op, ": unsupported device ", t.device());
  }
}

bool is_channels_last(const at::Tensor& t) {
  return !t.is_contiguous() && t.is_contiguous(at::MemoryFormat::ChannelsLast);
}

at::Tensor roi_align_forward(const at::Tensor& input, const at::Tensor& rois, double scale,
                             int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                             bool aligned) {
  check_device(input, "roi_align");
  TORCH_CHECK(input.dim() == 4 && rois.dim() == 2 && rois.size(1) == 5, "roi_align: bad shapes");
  TORCH_CHECK(rois.device() == input.device(), "roi_align: rois on another device");
  TORCH_CHECK(pooled_h > 0 && pooled_w > 0, "roi_align: output size must be positive");
  const auto acc = input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor x = is_channels_last(input) ? input : input.contiguous();
  const at::Tensor r = rois.to(acc).contiguous();
  if (input.is_cuda()) {
#ifdef WITH_CUDA
    return roi_align_forward_cuda(x, r, scale, pooled_h, pooled_w, sampling_ratio, aligned);
#endif
  }
  return roi_align_forward_cpu(x, r, scale, pooled_h, pooled_w, sampling_ratio, aligned);
}

at::Tensor roi_align_backward(const at::Tensor& grad, const at::Tensor& rois, double scale,
                              int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                              bool aligned, int64_t batch, int64_t height, int64_t width,
                              bool channels_last) {
  check_device(grad, "roi_align backward");
  TORCH_CHECK(grad.dim() == 4 && grad.size(0) == rois.size(0) && grad.size(2) == pooled_h &&
                  grad.size(3) == pooled_w,
              "roi_align backward: bad grad shape");
  const auto acc = grad.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor r = rois.to(acc).contiguous();
  if (grad.is_cuda()) {
#ifdef WITH_CUDA
    return roi_align_backward_cuda(grad, r, scale, pooled_h, pooled_w, sampling_ratio, aligned,
                                   batch, height, width, channels_last);
#endif
  }
  return roi_align_backward_cpu(grad, r, scale, pooled_h, pooled_w, sampling_ratio, aligned, batch,
                                height, width, channels_last);
}

void mask_pool_weights(const at::Tensor& masks, int64_t q0, double eps, at::Tensor& weights,
                       at::Tensor& den) {
  if (weights.numel() == 0) return;
  const auto mt = masks.scalar_type();
  TORCH_CHECK(mt == at::kBool || mt == at::kByte || mt == at::kFloat || mt == at::kDouble,
              "mask_pool: masks must be bool, uint8, float32 or float64");
  if (masks.is_cuda()) {
#ifdef WITH_CUDA
    mask_pool_weights_cuda(masks, q0, eps, weights, den);
    return;
#endif
  }
  mask_pool_weights_cpu(masks, q0, eps, weights, den);
}

// Masks per chunk so the (B, chunk, h, w) weight buffer never outgrows the inputs
// (features (B, C, h, w) + masks) nor 4M elements.
int64_t mask_pool_chunk(int64_t B, int64_t C, int64_t h, int64_t w, const at::Tensor& masks) {
  const int64_t per_mask = std::max<int64_t>(B * h * w, 1);
  const int64_t budget = std::max<int64_t>(B * C * h * w + masks.numel(), int64_t(1) << 22);
  return std::max<int64_t>(std::min<int64_t>(budget / per_mask, masks.size(1)), 1);
}

// (B, h*w, C) view of (B, C, h, w) features, whatever their layout.
at::Tensor pixels_by_channels(const at::Tensor& f) {
  return f.flatten(2).transpose(1, 2);
}

void check_mask_pool(const at::Tensor& features, const at::Tensor& masks) {
  check_device(features, "mask_pool");
  TORCH_CHECK(features.dim() == 4 && masks.dim() == 4 && masks.size(0) == features.size(0),
              "mask_pool: bad shapes");
  TORCH_CHECK(masks.device() == features.device(), "mask_pool: masks on another device");
  TORCH_CHECK(masks.is_contiguous(), "mask_pool: masks must be contiguous");
}

// features (B, C, h, w), masks (B, Q, H, W) -> (pooled (B, Q, C), mask sums (B, Q)).
std::tuple<at::Tensor, at::Tensor> mask_pool_forward(const at::Tensor& features,
                                                     const at::Tensor& masks, double eps) {
  check_mask_pool(features, masks);
  const int64_t B = features.size(0), C = features.size(1), h = features.size(2),
                w = features.size(3), Q = masks.size(1);
  const auto acc = features.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor den = at::empty({B, Q}, features.options().dtype(acc));
  const at::Tensor f = pixels_by_channels(features);
  const int64_t chunk = mask_pool_chunk(B, C, h, w, masks);
  if (chunk >= Q) {
    at::Tensor weights = at::empty({B, Q, h, w}, features.options());
    mask_pool_weights(masks, 0, eps, weights, den);
    return {at::bmm(weights.view({B, Q, h * w}), f), den};
  }
  at::Tensor out = at::empty({B, Q, C}, features.options());
  for (int64_t q0 = 0; q0 < Q; q0 += chunk) {
    const int64_t qc = std::min(chunk, Q - q0);
    at::Tensor weights = at::empty({B, qc, h, w}, features.options());
    mask_pool_weights(masks, q0, eps, weights, den);
    out.narrow(1, q0, qc).copy_(at::bmm(weights.view({B, qc, h * w}), f));
  }
  return {out, den};
}

// grad (B, Q, C) -> grad of features (B, C, h, w), channels-last when `channels_last`.
at::Tensor mask_pool_backward(const at::Tensor& grad, const at::Tensor& masks, double eps,
                              int64_t h, int64_t w, bool channels_last) {
  check_device(grad, "mask_pool backward");
  TORCH_CHECK(grad.dim() == 3 && masks.dim() == 4 && grad.size(0) == masks.size(0) &&
                  grad.size(1) == masks.size(1),
              "mask_pool backward: bad shapes");
  TORCH_CHECK(masks.device() == grad.device() && masks.is_contiguous(),
              "mask_pool backward: masks must be contiguous on the grad's device");
  const int64_t B = grad.size(0), Q = grad.size(1), C = grad.size(2);
  const auto acc = grad.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor den = at::empty({B, Q}, grad.options().dtype(acc));
  const int64_t chunk = mask_pool_chunk(B, C, h, w, masks);
  const auto as_nchw = [&](const at::Tensor& t) {
    return channels_last ? t.view({B, h, w, C}).permute({0, 3, 1, 2}) : t.view({B, C, h, w});
  };
  if (chunk >= Q) {
    at::Tensor weights = at::empty({B, Q, h, w}, grad.options());
    mask_pool_weights(masks, 0, eps, weights, den);
    const at::Tensor wv = weights.view({B, Q, h * w});
    return as_nchw(channels_last ? at::bmm(wv.transpose(1, 2), grad)
                                 : at::bmm(grad.transpose(1, 2), wv));
  }
  // channels-last grads are built as (B, h*w, C), NCHW ones as (B, C, h*w)
  at::Tensor out = channels_last ? at::zeros({B, h * w, C}, grad.options())
                                 : at::zeros({B, C, h * w}, grad.options());
  for (int64_t q0 = 0; q0 < Q; q0 += chunk) {
    const int64_t qc = std::min(chunk, Q - q0);
    at::Tensor weights = at::empty({B, qc, h, w}, grad.options());
    mask_pool_weights(masks, q0, eps, weights, den);
    const at::Tensor wv = weights.view({B, qc, h * w});
    const at::Tensor gq = grad.narrow(1, q0, qc);
    if (channels_last)
      out.baddbmm_(wv.transpose(1, 2), gq);
    else
      out.baddbmm_(gq.transpose(1, 2), wv);
  }
  return as_nchw(out);
}

std::tuple<at::Tensor, at::Tensor> masked_crops(const at::Tensor& image, const at::Tensor& masks,
                                                const c10::optional<at::Tensor>& boxes,
                                                int64_t size, const std::vector<double>& mean,
                                                const std::vector<double>& std,
                                                const std::vector<double>& fill,
                                                double expand_ratio, bool cubic) {
  check_device(image, "masked_crops");
  TORCH_CHECK(image.dim() == 3 && masks.dim() == 3 && image.size(1) == masks.size(1) &&
                  image.size(2) == masks.size(2),
              "masked_crops: bad shapes");
  TORCH_CHECK(masks.device() == image.device(), "masked_crops: masks on another device");
  const int64_t C = image.size(0);
  TORCH_CHECK(C >= 1 && C <= kMaxCropChannels, "masked_crops: 1 to 8 channels supported");
  TORCH_CHECK(static_cast<int64_t>(mean.size()) == C && static_cast<int64_t>(std.size()) == C &&
                  static_cast<int64_t>(fill.size()) == C,
              "masked_crops: mean/std/fill need one value per channel");
  TORCH_CHECK(size > 0, "masked_crops: size must be positive");
  const at::Tensor img = image.contiguous();
  const at::Tensor m = masks.contiguous();
  at::Tensor b;
  if (boxes.has_value() && boxes->defined()) {
    TORCH_CHECK(boxes->dim() == 2 && boxes->size(0) == masks.size(0) && boxes->size(1) == 4,
                "masked_crops: boxes must be (Q, 4)");
    b = boxes->to(image.device(), at::kDouble).contiguous();
  }
  if (image.is_cuda()) {
#ifdef WITH_CUDA
    return masked_crops_cuda(img, m, b, size, mean, std, fill, expand_ratio, cubic);
#endif
  }
  return masked_crops_cpu(img, m, b, size, mean, std, fill, expand_ratio, cubic);
}

}  // namespace
}  // namespace clipdense

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "clipdense region ops (roi_align, mask_pool, masked_crops)";
  m.def("with_cuda", &clipdense::with_cuda, "whether the CUDA kernels were compiled");
  m.def("roi_align_forward", &clipdense::roi_align_forward);
  m.def("roi_align_backward", &clipdense::roi_align_backward);
  m.def("mask_pool_forward", &clipdense::mask_pool_forward);
  m.def("mask_pool_backward", &clipdense::mask_pool_backward);
  m.def("masked_crops", &clipdense::masked_crops);
}
