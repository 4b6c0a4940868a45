/* Resizing and cropping RGB24 frames the way torchvision does for video
 * models (runtime/video_resize.c): separable bilinear or bicubic with
 * antialias, the filters of torch.nn.functional.interpolate(mode='bilinear'
 * or 'bicubic', antialias=True, align_corners=False), computed in float,
 * rounded half to even into uint8 (clamped: bicubic overshoots). Plain C,
 * no FFmpeg. */
#pragma once
#include <stdint.h>

#include "base/status.h"

typedef enum ctxpar_resize_filter {
    CTXPAR_RESIZE_BILINEAR, /* V-JEPA 2's and CogVideoX's processors */
    CTXPAR_RESIZE_BICUBIC   /* Qwen2-VL's (qwen-vl-utils) */
} ctxpar_resize_filter;

/* Output size of torchvision's resize(size=short_side): the short side
 * becomes short_side, the long side int(short_side * long / short). */
void ctxpar_video_resize_short_size(int64_t in_h, int64_t in_w, int64_t short_side,
                                    int64_t *out_h, int64_t *out_w);

/* torchvision's center_crop offsets: int(round((in - out) / 2.0)), with
 * Python's round (half to even). */
int64_t ctxpar_video_center_offset(int64_t in, int64_t out);

/* Resize src [in_h][in_w][3] to a virtual out_h x out_w frame and write the
 * window [top, top + win_h) x [left, left + win_w) of it to dst
 * [win_h][win_w][3]. Each output pixel is computed as in the full resize, so
 * cropping after resizing gives the same bytes. A dimension whose size does
 * not change is copied, as torch skips it. */
ctxpar_status ctxpar_video_resize_rgb(const uint8_t *src, int64_t in_h, int64_t in_w,
                                      int64_t out_h, int64_t out_w, int64_t top, int64_t left,
                                      int64_t win_h, int64_t win_w, ctxpar_resize_filter filter,
                                      uint8_t *dst);

/* The same on one float plane [in_h][in_w] (no rounding), for tests against
 * torch. */
ctxpar_status ctxpar_video_resize_plane(const float *src, int64_t in_h, int64_t in_w,
                                        int64_t out_h, int64_t out_w,
                                        ctxpar_resize_filter filter, float *dst);

/* qwen-vl-utils' smart_resize: both sides rounded to multiples of factor
 * (Python's round, half to even), then scaled down (floor) when the area
 * exceeds max_pixels or up (ceil) when below min_pixels, keeping the aspect
 * ratio as closely as whole multiples allow. */
void ctxpar_video_smart_size(int64_t in_h, int64_t in_w, int64_t factor, double min_pixels,
                             double max_pixels, int64_t *out_h, int64_t *out_w);
