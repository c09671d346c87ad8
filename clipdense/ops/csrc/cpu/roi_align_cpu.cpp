// RoIAlign on CPU. Each RoI's bins are reduced once to merged (pixel, weight) tap lists (see
// for_each_tap), so a bin costs (#rows x #cols) reads per channel instead of 4 per sample point.
// NCHW runs per RoI over channel planes; channels-last runs per bin over contiguous channels.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <vector>

#include "../common.h"
#include "../ops.h"

namespace clipdense {
namespace {

template <typename T>
struct Tap {
  int64_t idx;
  T w;
};

// Taps of all `pooled` bins of one axis: bin p owns taps[offs[p] : offs[p + 1]].
template <typename T>
struct AxisTaps {
  std::vector<Tap<T>> taps;
  std::vector<int64_t> offs;

  void build(const RoIAxis<T>& a, int pooled, int size) {
    taps.clear();
    offs.assign(pooled + 1, 0);
    for (int p = 0; p < pooled; ++p) {
      offs[p] = static_cast<int64_t>(taps.size());
      for_each_tap(a.start + static_cast<T>(p) * a.bin, a.bin, a.grid, size,
                   [&](int i, T w) { taps.push_back({i, w}); });
    }
    offs[pooled] = static_cast<int64_t>(taps.size());
  }
  const Tap<T>* begin(int p) const { return taps.data() + offs[p]; }
  const Tap<T>* end(int p) const { return taps.data() + offs[p + 1]; }
};

struct Geometry {
  int64_t batch, channels, height, width, rois;
  int pooled_h, pooled_w, sampling_ratio;
  bool aligned;
};

// The taps of every bin of one RoI flattened to (pixel offset y * W + x, weight) lists, so the
// per-channel loops are plain gathers/scatters. Bin b owns entries [start[b], start[b + 1]).
template <typename T>
struct BinTaps {
  std::vector<int64_t> start, off;
  std::vector<T> w;
  AxisTaps<T> ty, tx;

  // Returns the RoI's image index, or -1 when it is out of range (the RoI pools to zeros).
  int64_t build(const T* rois, int64_t n, T scale, const Geometry& g) {
    const T* r = rois + n * 5;
    const auto b = static_cast<int64_t>(r[0]);
    if (b < 0 || b >= g.batch) return -1;
    ty.build(roi_axis<T>(r[2], r[4], scale, g.pooled_h, g.sampling_ratio, g.aligned), g.pooled_h,
             static_cast<int>(g.height));
    tx.build(roi_axis<T>(r[1], r[3], scale, g.pooled_w, g.sampling_ratio, g.aligned), g.pooled_w,
             static_cast<int>(g.width));
    start.assign(int64_t(g.pooled_h) * g.pooled_w + 1, 0);
    off.clear();
    w.clear();
    for (int ph = 0; ph < g.pooled_h; ++ph) {
      for (int pw = 0; pw < g.pooled_w; ++pw) {
        start[int64_t(ph) * g.pooled_w + pw] = static_cast<int64_t>(off.size());
        for (const Tap<T>* y = ty.begin(ph); y != ty.end(ph); ++y) {
          for (const Tap<T>* x = tx.begin(pw); x != tx.end(pw); ++x) {
            off.push_back(y->idx * g.width + x->idx);
            w.push_back(y->w * x->w);
          }
        }
      }
    }
    start.back() = static_cast<int64_t>(off.size());
    return b;
  }
};

template <typename scalar_t>
void forward_nchw(const scalar_t* in, const at::opmath_type<scalar_t>* rois, scalar_t* out,
                  at::opmath_type<scalar_t> scale, const Geometry& g) {
  using T = at::opmath_type<scalar_t>;
  const int64_t plane = g.height * g.width, bins = int64_t(g.pooled_h) * g.pooled_w;
  at::parallel_for(0, g.rois, 1, [&](int64_t begin, int64_t end) {
    BinTaps<T> taps;
    for (int64_t n = begin; n < end; ++n) {
      scalar_t* o = out + n * g.channels * bins;
      const int64_t b = taps.build(rois, n, scale, g);
      if (b < 0) {
        std::fill(o, o + g.channels * bins, scalar_t(0));
        continue;
      }
      const int64_t* off = taps.off.data();
      const T* w = taps.w.data();
      for (int64_t c = 0; c < g.channels; ++c) {
        const scalar_t* src = in + (b * g.channels + c) * plane;
        for (int64_t k = 0; k < bins; ++k) {
          T acc = 0;
          for (int64_t i = taps.start[k]; i < taps.start[k + 1]; ++i)
            acc += w[i] * static_cast<T>(src[off[i]]);
          o[c * bins + k] = static_cast<scalar_t>(acc);
        }
      }
    }
  });
}

template <typename scalar_t>
void forward_nhwc(const scalar_t* in, const at::opmath_type<scalar_t>* rois, scalar_t* out,
                  at::opmath_type<scalar_t> scale, const Geometry& g) {
  using T = at::opmath_type<scalar_t>;
  const int64_t C = g.channels, bins = int64_t(g.pooled_h) * g.pooled_w;
  at::parallel_for(0, g.rois, 1, [&](int64_t begin, int64_t end) {
    BinTaps<T> taps;
    std::vector<T> acc(C);
    for (int64_t n = begin; n < end; ++n) {
      scalar_t* o = out + n * C * bins;
      const int64_t b = taps.build(rois, n, scale, g);
      if (b < 0) {
        std::fill(o, o + C * bins, scalar_t(0));
        continue;
      }
      const scalar_t* img = in + b * g.height * g.width * C;
      T* a = acc.data();
      for (int64_t k = 0; k < bins; ++k) {
        std::fill(acc.begin(), acc.end(), T(0));
        for (int64_t i = taps.start[k]; i < taps.start[k + 1]; ++i) {
          const T w = taps.w[i];
          const scalar_t* px = img + taps.off[i] * C;
          for (int64_t c = 0; c < C; ++c) a[c] += w * static_cast<T>(px[c]);
        }
        scalar_t* dst = o + k * C;
        for (int64_t c = 0; c < C; ++c) dst[c] = static_cast<scalar_t>(a[c]);
      }
    }
  });
}

// Backward scatters into an accumulate-type buffer; threads split the channels, so no two
// threads ever write the same element.
template <typename scalar_t>
void backward_nchw(const scalar_t* grad, const at::opmath_type<scalar_t>* rois,
                   at::opmath_type<scalar_t>* gin, at::opmath_type<scalar_t> scale,
                   const Geometry& g) {
  using T = at::opmath_type<scalar_t>;
  const int64_t plane = g.height * g.width, bins = int64_t(g.pooled_h) * g.pooled_w;
  at::parallel_for(0, g.channels, 1, [&](int64_t c0, int64_t c1) {
    BinTaps<T> taps;
    for (int64_t n = 0; n < g.rois; ++n) {
      const int64_t b = taps.build(rois, n, scale, g);
      if (b < 0) continue;
      const int64_t* off = taps.off.data();
      const T* w = taps.w.data();
      for (int64_t c = c0; c < c1; ++c) {
        const scalar_t* go = grad + (n * g.channels + c) * bins;
        T* dst = gin + (b * g.channels + c) * plane;
        for (int64_t k = 0; k < bins; ++k) {
          const T v = static_cast<T>(go[k]);
          if (v == T(0)) continue;
          for (int64_t i = taps.start[k]; i < taps.start[k + 1]; ++i) dst[off[i]] += w[i] * v;
        }
      }
    }
  });
}

template <typename scalar_t>
void backward_nhwc(const scalar_t* grad, const at::opmath_type<scalar_t>* rois,
                   at::opmath_type<scalar_t>* gin, at::opmath_type<scalar_t> scale,
                   const Geometry& g) {
  using T = at::opmath_type<scalar_t>;
  const int64_t C = g.channels, bins = int64_t(g.pooled_h) * g.pooled_w;
  at::parallel_for(0, C, 16, [&](int64_t c0, int64_t c1) {
    BinTaps<T> taps;
    for (int64_t n = 0; n < g.rois; ++n) {
      const int64_t b = taps.build(rois, n, scale, g);
      if (b < 0) continue;
      T* img = gin + b * g.height * g.width * C;
      for (int64_t k = 0; k < bins; ++k) {
        const scalar_t* go = grad + (n * bins + k) * C;
        for (int64_t i = taps.start[k]; i < taps.start[k + 1]; ++i) {
          const T w = taps.w[i];
          T* px = img + taps.off[i] * C;
          for (int64_t c = c0; c < c1; ++c) px[c] += w * static_cast<T>(go[c]);
        }
      }
    }
  });
}

}  // namespace

at::Tensor roi_align_forward_cpu(const at::Tensor& input, const at::Tensor& rois, double scale,
                                 int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                 bool aligned) {
  const bool cl = !input.is_contiguous();  // ops.cpp passes NCHW- or channels-last-contiguous
  const Geometry g{input.size(0), input.size(1), input.size(2), input.size(3), rois.size(0),
                   static_cast<int>(pooled_h), static_cast<int>(pooled_w),
                   static_cast<int>(sampling_ratio), aligned};
  at::Tensor out = at::empty(
      {g.rois, g.channels, pooled_h, pooled_w},
      input.options().memory_format(cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "roi_align_cpu", [&] {
    using T = at::opmath_type<scalar_t>;
    const auto* r = rois.data_ptr<T>();
    if (cl)
      forward_nhwc(input.data_ptr<scalar_t>(), r, out.data_ptr<scalar_t>(), static_cast<T>(scale), g);
    else
      forward_nchw(input.data_ptr<scalar_t>(), r, out.data_ptr<scalar_t>(), static_cast<T>(scale), g);
  });
  return out;
}

at::Tensor roi_align_backward_cpu(const at::Tensor& grad, const at::Tensor& rois, double scale,
                                  int64_t pooled_h, int64_t pooled_w, int64_t sampling_ratio,
                                  bool aligned, int64_t batch, int64_t height, int64_t width,
                                  bool channels_last) {
  const Geometry g{batch, grad.size(1), height, width, rois.size(0), static_cast<int>(pooled_h),
                   static_cast<int>(pooled_w), static_cast<int>(sampling_ratio), aligned};
  const auto acc = rois.scalar_type();
  const auto fmt = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  // (at::zeros ignores the memory format of its options)
  at::Tensor gin =
      at::empty({batch, g.channels, height, width}, grad.options().dtype(acc).memory_format(fmt))
          .zero_();
  if (grad.numel() == 0 || gin.numel() == 0) return gin.to(grad.scalar_type());
  const at::Tensor go = grad.contiguous(fmt);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "roi_align_cpu_bwd", [&] {
    using T = at::opmath_type<scalar_t>;
    const auto* r = rois.data_ptr<T>();
    if (channels_last)
      backward_nhwc(go.data_ptr<scalar_t>(), r, gin.data_ptr<T>(), static_cast<T>(scale), g);
    else
      backward_nchw(go.data_ptr<scalar_t>(), r, gin.data_ptr<T>(), static_cast<T>(scale), g);
  });
  return gin.to(grad.scalar_type());
}

}  // namespace clipdense
