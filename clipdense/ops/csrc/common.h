// Sampling helpers shared by the CPU and CUDA kernels, so both compute identical coordinates.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define CD_HD __host__ __device__ __forceinline__
#else
#define CD_HD inline
#endif

namespace clipdense {

// ---------------------------------------------------------------- roi_align

// One axis of a RoI in feature coordinates: bin `p` starts at start + p * bin and holds `grid`
// samples (grid <= 0 means the bin has no samples and pools to 0).
template <typename T>
struct RoIAxis {
  T start;
  T bin;
  int grid;
};

template <typename T>
CD_HD RoIAxis<T> roi_axis(T lo, T hi, T scale, int pooled, int sampling_ratio, bool aligned) {
  const T offset = aligned ? T(0.5) : T(0);
  const T start = lo * scale - offset;
  T len = (hi * scale - offset) - start;
  if (!aligned && len < T(1)) len = T(1);
  const T bin = len / static_cast<T>(pooled);
  const int grid =
      sampling_ratio > 0 ? sampling_ratio : static_cast<int>(ceil(len / static_cast<T>(pooled)));
  return {start, bin, grid};
}

// Calls f(index, weight) for every distinct input index touched by the bilinear samples of one
// bin along one axis: samples at start_p + (i + 0.5) * bin / grid, i < grid, on an axis of
// `size` pixels. Samples outside [-1, size] are dropped (their 2-D sample is zero), coordinates
// below 0 snap to 0 and above size - 1 to size - 1. Weights of samples sharing an index are
// summed and divided by grid, so the 2-D bin average is sum_y sum_x wy * wx * v[y, x]; merging
// the taps is what makes the backward issue one update per touched pixel instead of four per
// sample. Indices come in increasing order.
template <typename T, typename F>
CD_HD void for_each_tap(T start_p, T bin, int grid, int size, F&& f) {
  if (grid <= 0 || size <= 0) return;
  const T inv_grid = T(1) / static_cast<T>(grid);
  int cur = -1;
  T w_cur = T(0), w_next = T(0);  // pending weights of indices cur and cur + 1
  for (int s = 0; s < grid; ++s) {
    const int i = bin < T(0) ? grid - 1 - s : s;  // visit samples in increasing coordinate
    T v = start_p + (static_cast<T>(i) + T(0.5)) * bin / static_cast<T>(grid);
    if (v < T(-1) || v > static_cast<T>(size)) continue;
    if (v < T(0)) v = T(0);
    int lo = static_cast<int>(v);
    T l;
    if (lo >= size - 1) {
      lo = size - 1;
      l = T(0);
    } else {
      l = v - static_cast<T>(lo);
    }
    if (cur < 0) {
      cur = lo;
    } else if (lo > cur) {
      f(cur, w_cur * inv_grid);
      if (lo == cur + 1) {
        w_cur = w_next;
      } else {
        if (w_next != T(0)) f(cur + 1, w_next * inv_grid);
        w_cur = T(0);
      }
      w_next = T(0);
      cur = lo;
    }
    w_cur += T(1) - l;
    w_next += l;
  }
  if (cur >= 0) {
    f(cur, w_cur * inv_grid);
    if (w_next != T(0)) f(cur + 1, w_next * inv_grid);
  }
}

// ---------------------------------------------------------------- resizing (align_corners=False)

// Bilinear taps of output index `o` when resizing in_size -> out_size, as F.interpolate does.
template <typename T>
CD_HD void linear_taps(int o, int in_size, int out_size, int* idx, T* w) {
  const T scale = static_cast<T>(in_size) / static_cast<T>(out_size);
  T src = scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
  if (src < T(0)) src = T(0);
  int i0 = static_cast<int>(src);
  if (i0 > in_size - 1) i0 = in_size - 1;
  const T l = src - static_cast<T>(i0);
  idx[0] = i0;
  idx[1] = i0 < in_size - 1 ? i0 + 1 : i0;
  w[0] = T(1) - l;
  w[1] = l;
}

// Bicubic (a = -0.75) taps of output index `o`, border indices clamped, as F.interpolate does.
template <typename T>
CD_HD void cubic_taps(int o, int in_size, int out_size, int* idx, T* w) {
  const T scale = static_cast<T>(in_size) / static_cast<T>(out_size);
  const T src = scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
  const T fl = floor(src);
  const int i0 = static_cast<int>(fl);
  const T t = src - fl;
  const T a = T(-0.75);
  const T x1 = t + T(1), x2 = T(1) - t, x3 = T(2) - t;
  w[0] = ((a * x1 - T(5) * a) * x1 + T(8) * a) * x1 - T(4) * a;
  w[1] = ((a + T(2)) * t - (a + T(3))) * t * t + T(1);
  w[2] = ((a + T(2)) * x2 - (a + T(3))) * x2 * x2 + T(1);
  w[3] = ((a * x3 - T(5) * a) * x3 + T(8) * a) * x3 - T(4) * a;
  for (int k = 0; k < 4; ++k) {
    int j = i0 - 1 + k;
    j = j < 0 ? 0 : (j > in_size - 1 ? in_size - 1 : j);
    idx[k] = j;
  }
}

// ---------------------------------------------------------------- masks

// Binary view of a mask value: integer masks are on when nonzero, floating masks when > 0.5.
template <typename M>
CD_HD bool mask_on(M m) {
  return static_cast<float>(m) > 0.5f;
}
template <>
CD_HD bool mask_on<uint8_t>(uint8_t m) {
  return m != 0;
}

// Soft value of a mask pixel for pooling: integer masks count as 0/1, floating masks as is.
template <typename T, typename M>
CD_HD T mask_value(M m) {
  return static_cast<T>(m);
}
template <>
CD_HD float mask_value<float, uint8_t>(uint8_t m) {
  return m != 0 ? 1.f : 0.f;
}
template <>
CD_HD double mask_value<double, uint8_t>(uint8_t m) {
  return m != 0 ? 1.0 : 0.0;
}

// OVSeg's crop box: scale (x1, y1, x2, y2) by `ratio` around its centre, floor, clamp to the
// image. Writes l, t, r, b (exclusive right/bottom); the crop is empty when r <= l or b <= t.
CD_HD void crop_box(double x1, double y1, double x2, double y2, double ratio, int width,
                    int height, int* box) {
  const double cx = 0.5 * (x1 + x2), cy = 0.5 * (y1 + y2);
  const double hw = 0.5 * (x2 - x1) * ratio, hh = 0.5 * (y2 - y1) * ratio;
  const double v[4] = {floor(cx - hw), floor(cy - hh), floor(cx + hw), floor(cy + hh)};
  const int lim[4] = {width, height, width, height};
  for (int k = 0; k < 4; ++k) {
    const double c = v[k] < 0.0 ? 0.0 : (v[k] > lim[k] ? lim[k] : v[k]);
    box[k] = static_cast<int>(c);
  }
}

// Crop box of region q: its given box (x1y1x2y2, when `boxes` is not null) or the tight box of
// its mask, from `tight` = (W-1-x_min, H-1-y_min, x_max, y_max) as reduced by the box kernel
// (y_max < 0 for an empty mask). Returns whether the crop is non-empty.
CD_HD bool region_crop_box(const int32_t* tight, const double* boxes, int64_t q,
                           double expand_ratio, int width, int height, int* box) {
  const int32_t* tb = tight + q * 4;
  box[0] = box[1] = box[2] = box[3] = 0;
  if (tb[3] < 0) return false;
  if (boxes != nullptr) {
    const double* b = boxes + q * 4;
    crop_box(b[0], b[1], b[2], b[3], expand_ratio, width, height, box);
  } else {
    crop_box(width - 1 - tb[0], height - 1 - tb[1], tb[2] + 1, tb[3] + 1, expand_ratio, width,
             height, box);
  }
  return box[2] > box[0] && box[3] > box[1];
}

// Per-channel constants of masked_crops (at most kMaxCropChannels channels).
constexpr int kMaxCropChannels = 8;
struct CropParams {
  float mean[kMaxCropChannels];
  float std[kMaxCropChannels];
  float fill[kMaxCropChannels];
};

}  // namespace clipdense
