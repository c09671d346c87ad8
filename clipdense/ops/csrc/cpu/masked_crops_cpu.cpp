// Masked region crops on CPU: tight mask boxes, then a separable resample per region.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "../common.h"
#include "../ops.h"

namespace clipdense {
namespace {

// Tight boxes (Q, 4) int32 as maxima of (W-1-x, H-1-y, x, y) over mask pixels; -1 when empty.
template <typename M>
void tight_boxes(const M* masks, int64_t Q, int64_t H, int64_t W, int32_t* boxes) {
  at::parallel_for(0, Q, 1, [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const M* m = masks + q * H * W;
      int64_t x_min = W, x_max = -1, y_min = H, y_max = -1;
      for (int64_t y = 0; y < H; ++y) {
        const M* row = m + y * W;
        int64_t first = -1, last = -1;
        for (int64_t x = 0; x < W; ++x) {
          if (mask_on(row[x])) {
            if (first < 0) first = x;
            last = x;
          }
        }
        if (first >= 0) {
          x_min = std::min(x_min, first);
          x_max = std::max(x_max, last);
          y_min = std::min(y_min, y);
          y_max = y;
        }
      }
      int32_t* b = boxes + q * 4;
      if (y_max < 0) {
        b[0] = b[1] = b[2] = b[3] = -1;
      } else {
        b[0] = static_cast<int32_t>(W - 1 - x_min);
        b[1] = static_cast<int32_t>(H - 1 - y_min);
        b[2] = static_cast<int32_t>(x_max);
        b[3] = static_cast<int32_t>(y_max);
      }
    }
  });
}

// Separable resampling per region: rows of the filled crop that some output row reads are
// resized horizontally into `tmp` (crop_h, C, S), then every output column vertically.
template <typename scalar_t, typename out_t, typename M>
void crops(const scalar_t* img, const M* masks, const int32_t* tight, const double* boxes,
           int64_t Q, int64_t C, int64_t H, int64_t W, int S, const CropParams& p,
           double expand_ratio, bool cubic, out_t* out, bool* valid) {
  using T = at::opmath_type<out_t>;
  const int K = cubic ? 4 : 2;
  const int64_t plane = int64_t(S) * S;
  at::parallel_for(0, Q, 1, [&](int64_t begin, int64_t end) {
    std::vector<int> yi(K * S), xi(K * S);
    std::vector<T> wy(K * S), wx(K * S), tmp;
    std::vector<char> needed;
    for (int64_t q = begin; q < end; ++q) {
      int box[4];
      const bool ok = region_crop_box(tight, boxes, q, expand_ratio, W, H, box);
      valid[q] = ok;
      out_t* o = out + q * C * plane;
      if (!ok) {
        for (int64_t c = 0; c < C; ++c)
          std::fill(o + c * plane, o + (c + 1) * plane,
                    static_cast<out_t>((p.fill[c] - p.mean[c]) / p.std[c]));
        continue;
      }
      const int crop_w = box[2] - box[0], crop_h = box[3] - box[1];
      for (int i = 0; i < S; ++i) {
        if (cubic) {
          cubic_taps<T>(i, crop_h, S, &yi[K * i], &wy[K * i]);
          cubic_taps<T>(i, crop_w, S, &xi[K * i], &wx[K * i]);
        } else {
          linear_taps<T>(i, crop_h, S, &yi[K * i], &wy[K * i]);
          linear_taps<T>(i, crop_w, S, &xi[K * i], &wx[K * i]);
        }
      }
      needed.assign(crop_h, 0);
      for (int i = 0; i < K * S; ++i) needed[yi[i]] = 1;
      tmp.resize(int64_t(crop_h) * C * S);
      for (int r = 0; r < crop_h; ++r) {
        if (!needed[r]) continue;
        const int64_t row = int64_t(box[1] + r) * W + box[0];
        const M* mrow = masks + q * H * W + row;
        T* trow = tmp.data() + int64_t(r) * C * S;
        for (int ox = 0; ox < S; ++ox) {
          T acc[kMaxCropChannels] = {};
          for (int k = 0; k < K; ++k) {
            const int x = xi[K * ox + k];
            const T w = wx[K * ox + k];
            if (mask_on(mrow[x])) {
              for (int64_t c = 0; c < C; ++c) acc[c] += w * static_cast<T>(img[c * H * W + row + x]);
            } else {
              for (int64_t c = 0; c < C; ++c) acc[c] += w * static_cast<T>(p.fill[c]);
            }
          }
          for (int64_t c = 0; c < C; ++c) trow[c * S + ox] = acc[c];
        }
      }
      for (int64_t c = 0; c < C; ++c) {
        const T mean = static_cast<T>(p.mean[c]), inv_std = T(1) / static_cast<T>(p.std[c]);
        for (int oy = 0; oy < S; ++oy) {
          out_t* orow = o + c * plane + int64_t(oy) * S;
          const T* rows[4];
          for (int k = 0; k < K; ++k) rows[k] = tmp.data() + (int64_t(yi[K * oy + k]) * C + c) * S;
          for (int ox = 0; ox < S; ++ox) {
            T v = 0;
            for (int k = 0; k < K; ++k) v += wy[K * oy + k] * rows[k][ox];
            orow[ox] = static_cast<out_t>((v - mean) * inv_std);
          }
        }
      }
    }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> masked_crops_cpu(const at::Tensor& image, const at::Tensor& masks,
                                                    const at::Tensor& boxes, int64_t size,
                                                    const std::vector<double>& mean,
                                                    const std::vector<double>& std,
                                                    const std::vector<double>& fill,
                                                    double expand_ratio, bool cubic) {
  const int64_t C = image.size(0), H = image.size(1), W = image.size(2), Q = masks.size(0);
  const auto out_type = at::isFloatingType(image.scalar_type()) ? image.scalar_type() : at::kFloat;
  at::Tensor out = at::empty({Q, C, size, size}, image.options().dtype(out_type));
  at::Tensor valid = at::zeros({Q}, image.options().dtype(at::kBool));
  if (Q == 0) return {out, valid};
  at::Tensor tight = at::empty({Q, 4}, image.options().dtype(at::kInt));
  const CropParams p = make_crop_params(mean, std, fill);
  const double* bptr = boxes.defined() ? boxes.data_ptr<double>() : nullptr;
  const bool float_masks = masks.scalar_type() == at::kFloat;
  TORCH_CHECK(float_masks || masks.scalar_type() == at::kBool || masks.scalar_type() == at::kByte,
              "masked_crops: masks must be bool, uint8 or float32");
  AT_DISPATCH_FLOATING_TYPES_AND3(at::kHalf, at::kBFloat16, at::kByte, image.scalar_type(), "masked_crops_cpu", [&] {
    using out_t = std::conditional_t<std::is_same_v<scalar_t, uint8_t>, float, scalar_t>;
    const scalar_t* img = image.data_ptr<scalar_t>();
    int32_t* tb = tight.data_ptr<int32_t>();
    if (float_masks) {
      const float* m = masks.data_ptr<float>();
      tight_boxes(m, Q, H, W, tb);
      crops(img, m, tb, bptr, Q, C, H, W, static_cast<int>(size), p, expand_ratio, cubic,
            out.data_ptr<out_t>(), valid.data_ptr<bool>());
    } else {
      const auto* m = static_cast<const uint8_t*>(masks.data_ptr());
      tight_boxes(m, Q, H, W, tb);
      crops(img, m, tb, bptr, Q, C, H, W, static_cast<int>(size), p, expand_ratio, cubic,
            out.data_ptr<out_t>(), valid.data_ptr<bool>());
    }
  });
  return {out, valid};
}

}  // namespace clipdense
