/* Resizing and cropping RGB24 frames the way torchvision does for video
 * models (runtime/video_resize.c): separable bilinear with antialias, the
 * filter of torch.nn.functional.interpolate(mode='bilinear', antialias=True,
 * align_corners=False), computed in float, rounded half to even into uint8.
 * Plain C, no FFmpeg. */
#pragma once
#include <stdint.h>

#include "base/status.h"

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
                                      int64_t win_h, int64_t win_w, uint8_t *dst);

/* The same on one float plane [in_h][in_w] (no rounding), for tests against
 * torch. */
ctxpar_status ctxpar_video_resize_plane(const float *src, int64_t in_h, int64_t in_w,
                                        int64_t out_h, int64_t out_w, float *dst);
