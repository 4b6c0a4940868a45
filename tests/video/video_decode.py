"""Frames decoded through ctxpar's source API at 1-4 ranks are byte-identical
to the ffmpeg command line's rgb24 output, for H.264 with B-frames and short
or open GOPs, VP9 in WebM, MPEG-4 in AVI, a variable-frame-rate clip, BT.709
and full-range clips, an edit list that discards packets, and a rotated clip.
Each rank decodes only its own share (uneven shares included)."""
from e2e_common import finish
from video_common import compare, decode, make_clips, reference

clips = make_clips()
ranks_for = {"h264_bframes": (1, 2, 3, 4), "h264_opengop": (1, 3, 4), "vfr": (1, 3)}
for name, clip in clips.items():
    ref = reference(clip)
    for ranks in ranks_for.get(name, (1, 3)):
        got, _ = decode(clip, ranks)
        compare("%s, %d rank(s)" % (name, ranks), got, ref)
finish("video_decode")
