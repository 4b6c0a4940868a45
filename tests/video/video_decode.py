"""Frames decoded through ctxpar's source API at 1-4 ranks are byte-identical
to the ffmpeg command line's rgb24 output, for H.264 with B-frames and short
or open GOPs, VP9 in WebM, MPEG-4 in AVI, a variable-frame-rate clip, BT.709
and full-range clips, an edit list that discards packets, and a rotated clip.
Each rank decodes only its own share (uneven shares included): the trace
lines show every rank after the first seeking and decoding well under the
whole file."""
import re

from e2e_common import fail, finish, rank_counts
from video_common import compare, decode, ffmpeg, make_clips, reference

clips = make_clips()
ranks_for = {"h264_bframes": (1, 2, 3, 4), "h264_opengop": (1, 3, 4), "vfr": (1, 3)}
for name, clip in clips.items():
    ref = reference(clip)
    counts = rank_counts(*ranks_for.get(name, (1, 3)))
    for ranks in counts:
        got, p = decode(clip, ranks)
        compare("%s, %d rank(s)" % (name, ranks), got, ref)
        if ranks == max(counts) and name in ("h264_bframes", "h264_opengop"):  # seeking
            trace = [tuple(int(x) for x in m) for m in re.findall(
                r"frames (\d+)\.\.(\d+): (\d+) of (\d+) packets decoded, (\d+) seeks, (\d+) from",
                p.stderr)]
            if len(trace) != ranks:
                fail("%s: expected %d trace lines, got:\n%s" % (name, ranks, p.stderr))
            for first, last, decoded, total, seeks, restarts in trace:
                # closed GOPs: every later rank seeks once; open GOPs may
                # need packet 0 for a leading picture, but never a restart
                strict = name == "h264_bframes"
                if first > 0 and (restarts != 0 or (strict and (seeks != 1 or
                                                                decoded >= total * 0.6))):
                    fail("%s: the rank with frames %d..%d decoded %d of %d packets (%d seeks, "
                         "%d from the start): it should seek and decode only its share"
                         % (name, first, last, decoded, total, seeks, restarts))
            print("ok  %-40s per-rank packets decoded: %s of %d" % (
                "%s, %d ranks, seeking" % (name, ranks), [t[2] for t in trace], trace[0][3]))

# The colour checks would catch a decoder that ignored the stream's matrix or
# range: the same clip converted with the other matrix/range differs.
for name, wrong in (("bt709_limited", "scale=in_color_matrix=bt601"),
                    ("bt601_full", "scale=in_range=limited")):
    if (reference(clips[name], "-vf", wrong) == reference(clips[name])).all():
        fail("%s: converting with %s gives the same bytes; the test cannot see the difference"
             % (name, wrong))
finish("video_decode")
