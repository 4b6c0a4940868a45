"""Benchmark mode and the scaling tools, end to end (tiny preset):
ctxpar --bench prints a '#' header and one row per stage, appends one JSON
line per invocation with every field typed and consistent (median between min
and max, frames/s from the median total, stage medians adding up to about the
total), removes its scratch output or keeps --out; launch/scaling_sweep.sh at
1 and 2 ranks writes strong.jsonl and weak.jsonl and launch/plot_scaling.py
turns them into a PNG; --json without --bench appends the run's own line
(format ctxpar-run, consistent with the output file), and with --dry-run the
plan's numbers; a run that fails leaves no JSON file behind."""
import json
import os
import re
import subprocess
import sys

from e2e_common import *

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COMMON = ["--preset", "tiny", "--frames", 16, "--size", "64x64", "--threads", 1]
STAGES = ["setup", "input", "vae", "tokens", "transformer", "merge", "output", "total"]
NUMBER = (int, float)
# Every field of a JSON line and its type, in the order ctxpar writes them.
FIELDS = [
    ("format", str), ("format_version", int), ("version", str), ("ranks", int),
    ("nodes", int), ("threads", int), ("device", str), ("dtype", str), ("isa", str),
    ("preset", str), ("model_file", str), ("family", str),
    ("model", dict), ("input", str), ("norm", str), ("no_merge", int), ("frames", int),
    ("height", int), ("width", int), ("latent_frames", int), ("tokens", int),
    ("vae_flops", NUMBER), ("attention_flops", NUMBER), ("dense_flops", NUMBER),
    ("planned_bytes", int), ("records", int), ("repeat", int),
    ("warmup", int), ("run_totals_s", list), ("stages_s", dict), ("frames_per_s", NUMBER),
    ("tokens_per_s", NUMBER), ("vae_gflop_per_s", NUMBER),
    ("attention_s", dict), ("attention_gflop_per_s", NUMBER),
    ("bytes_sent_total", int), ("bytes_sent_max", int), ("halo_wait_s", NUMBER),
    ("halo_in_flight_s", NUMBER), ("halo_hidden", NUMBER), ("ring_wait_s", NUMBER),
    ("ring_in_flight_s", NUMBER), ("ring_hidden", NUMBER), ("peak_tracked_bytes", int),
    ("peak_rss_bytes", int),
]


def ctxpar(ranks, *args, cwd=None, timeout=120):
    cmd = mpirun(ranks) + [CTXPAR] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV, cwd=cwd)


def spread_ok(what, s):
    if not (isinstance(s, dict) and list(s) == ["median", "min", "max"]
            and all(isinstance(s[k], NUMBER) and not isinstance(s[k], bool) for k in s)):
        fail("%s: %r is not {median, min, max}" % (what, s))
        return False
    if not (0 <= s["min"] <= s["median"] <= s["max"]):
        fail("%s: not 0 <= min <= median <= max: %r" % (what, s))
        return False
    return True


def check_record(what, r, ranks, repeat, warmup):
    if list(r) != [k for k, _ in FIELDS]:
        fail("%s: keys %s, expected %s in that order" % (what, list(r), [k for k, _ in FIELDS]))
    for key, kind in FIELDS:
        if key not in r:
            continue
        if not isinstance(r[key], kind) or isinstance(r[key], bool):
            fail("%s: %s = %r is not %s" % (what, key, r[key], kind))
            return
    expect = {"format": "ctxpar-bench", "ranks": ranks, "nodes": 1, "threads": 1,
              "device": "cpu", "dtype": "f32", "preset": "tiny", "model_file": "", "family": "ctxpar",
              "input": "synthetic",
              "frames": 16, "height": 64, "width": 64, "tokens": 256, "repeat": repeat,
              "warmup": warmup}
    for key, value in expect.items():
        if r[key] != value:
            fail("%s: %s = %r, expected %r" % (what, key, r[key], value))
    if r["model"].get("transformer", {}).get("dim") != 64:
        fail("%s: model %r is not the tiny preset's config" % (what, r["model"]))
    totals = r["run_totals_s"]
    if len(totals) != repeat or not all(isinstance(t, NUMBER) and t > 0 for t in totals):
        fail("%s: run_totals_s %r, expected %d positive numbers" % (what, totals, repeat))
    if list(r["stages_s"]) != STAGES:
        fail("%s: stages %s, expected %s" % (what, list(r["stages_s"]), STAGES))
        return
    if not all(spread_ok("%s stage %s" % (what, s), r["stages_s"][s]) for s in STAGES):
        return
    spread_ok(what + " attention_s", r["attention_s"])
    total = r["stages_s"]["total"]
    if sorted(totals)[0] != total["min"] or sorted(totals)[-1] != total["max"]:
        fail("%s: total min/max %r do not match run_totals_s %r" % (what, total, totals))
    if abs(r["frames_per_s"] - r["frames"] / total["median"]) > 1e-6 * r["frames_per_s"]:
        fail("%s: frames_per_s %g != frames / median total %g" % (
            what, r["frames_per_s"], r["frames"] / total["median"]))
    if abs(r["tokens_per_s"] - r["tokens"] / total["median"]) > 1e-6 * r["tokens_per_s"]:
        fail("%s: tokens_per_s %g != tokens / median total" % (what, r["tokens_per_s"]))
    stage_sum = sum(r["stages_s"][s]["median"] for s in STAGES[:-1])
    # Stage times are each a max over ranks and each median is taken alone,
    # so on a busy, oversubscribed machine their sum may pass the median total
    # (seen: 0.329 s against 0.276 s while other jobs ran). Held to the
    # slowest run's total plus 10% and 20 ms: a stage counted twice, or a
    # stage timed over more than its own work, still fails.
    if stage_sum > total["max"] * 1.1 + 0.02:
        fail("%s: stage medians add up to %.4f s, more than the slowest total %.4f s" % (
            what, stage_sum, total["max"]))
    if r["vae_flops"] <= 0 or r["vae_gflop_per_s"] <= 0 or r["attention_flops"] <= 0:
        fail("%s: FLOPs or rates not positive" % what)
    if ranks > 1 and not (0 < r["bytes_sent_max"] <= r["bytes_sent_total"]):
        fail("%s: bytes sent %d busiest, %d in all" % (what, r["bytes_sent_max"],
                                                        r["bytes_sent_total"]))
    for key in ("halo_hidden", "ring_hidden"):
        if not (-1e-9 <= r[key] <= 1 + 1e-9):
            fail("%s: %s = %g outside [0, 1]" % (what, key, r[key]))
    if not (0 < r["peak_tracked_bytes"] and 0 < r["peak_rss_bytes"]):
        fail("%s: peak memory %d tracked, %d resident" % (what, r["peak_tracked_bytes"],
                                                          r["peak_rss_bytes"]))


def check_table(what, text, repeat, warmup, quiet):
    header = [l for l in text.splitlines() if l.startswith("#")]
    if not header or not re.match(r"# ctxpar \S+ benchmark: 2 rank\(s\) on 1 node\(s\), "
                                  r"1 thread\(s\) per rank, device cpu", header[0]):
        fail("%s: no '# ctxpar VERSION benchmark: ...' header in:\n%s" % (what, text))
    if not any("preset tiny" in l for l in header) or not any("16 frames of 64x64" in l
                                                              for l in header):
        fail("%s: header does not name the preset and the input:\n%s" % (what, text))
    number = r"\s+\d+\.\d+"
    for stage in STAGES:
        if not re.search(r"^%s%s%s%s$" % (stage, number, number, number), text, re.M):
            fail("%s: no row 'stage median min max' for %s in:\n%s" % (what, stage, text))
    for rate in ("frames/s", "tokens/s", "VAE GFLOP/s", "attention GFLOP/s", "MiB sent",
                 "halo hidden", "ring hidden", "peak MiB per rank"):
        if not re.search(r"^%s\s+\d" % re.escape(rate), text, re.M):
            fail("%s: no '%s' line" % (what, rate))
    runs = re.findall(r"^run (\d+)/(\d+): \d+\.\d+ s$", text, re.M)
    warm = re.findall(r"^warm-up (\d+)/(\d+): \d+\.\d+ s$", text, re.M)
    if quiet and (runs or warm):
        fail("%s: --quiet still printed per-run lines" % what)
    if not quiet and (len(runs) != repeat or len(warm) != warmup):
        fail("%s: %d run lines and %d warm-up lines, expected %d and %d" % (
            what, len(runs), len(warm), repeat, warmup))


def read_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def main():
    d = scratch_dir("ctxpar-bench-")
    jsonl = os.path.join(d, "bench.jsonl")

    # No --out: a scratch file in the working directory, gone afterwards.
    p = ctxpar(2, *COMMON, "--bench", "--repeat", 2, "--warmup", 1, "--json", jsonl, cwd=d)
    if p.returncode != 0:
        raise RuntimeError("--bench failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    check_table("bench", p.stdout, 2, 1, quiet=False)
    if os.path.exists(os.path.join(d, "ctxpar_bench.h5")):
        fail("the scratch output ctxpar_bench.h5 was left behind")
    lines = read_lines(jsonl)
    if len(lines) != 1:
        fail("one --bench run appended %d JSON lines" % len(lines))
    check_record("bench line 1", lines[0], 2, 2, 1)

    # A second invocation appends a line; with --out the last run's file stays.
    kept = os.path.join(d, "kept.h5")
    p = ctxpar(2, *COMMON, "--bench", "--repeat", 3, "--warmup", 0, "--json", jsonl, "--quiet",
               "--out", kept, cwd=d)
    if p.returncode != 0:
        raise RuntimeError("--bench --out failed (%d):\n%s%s" % (p.returncode, p.stdout,
                                                                 p.stderr))
    check_table("bench --quiet", p.stdout, 3, 0, quiet=True)
    lines = read_lines(jsonl)
    if len(lines) != 2:
        fail("two --bench runs left %d JSON lines, expected 2" % len(lines))
    else:
        check_record("bench line 2", lines[1], 2, 3, 0)
        if lines[0]["records"] != lines[1]["records"] or lines[0]["bytes_sent_total"] != \
                lines[1]["bytes_sent_total"]:
            fail("records or bytes sent differ between two identical runs: %r vs %r" % (
                (lines[0]["records"], lines[0]["bytes_sent_total"]),
                (lines[1]["records"], lines[1]["bytes_sent_total"])))
    if not os.path.isfile(kept):
        fail("--bench --out %s: the output is not kept" % kept)
    elif int(read(kept)["attrs"]["complete"]) != 1:
        fail("--bench --out: the kept output is not complete")

    # --json without --bench: the run's own line, then the plan's with --dry-run.
    plain, plain_out = os.path.join(d, "plain.jsonl"), os.path.join(d, "plain.h5")
    p = ctxpar(2, *COMMON, "--json", plain, "--out", plain_out, "--quiet")
    q = ctxpar(2, *COMMON, "--json", plain, "--dry-run")
    if p.returncode != 0 or q.returncode != 0:
        fail("--json without --bench: exit %d / %d: %s" % (p.returncode, q.returncode,
                                                          (p.stderr + q.stderr)[:300]))
    else:
        runs = [json.loads(l) for l in open(plain).read().splitlines()]
        got = read(plain_out)
        if len(runs) != 2 or [r["format"] for r in runs] != ["ctxpar-run"] * 2:
            fail("--json without --bench: %d lines %r" % (len(runs), [r.get("format") for r in runs]))
        elif runs[0]["dry_run"] != 0 or runs[1]["dry_run"] != 1:
            fail("--json: dry_run flags %r" % [r["dry_run"] for r in runs])
        elif runs[0]["records"] != int(got["attrs"]["records"]) or runs[0]["ranks"] != 2:
            fail("--json: records %r, ranks %r; the file has %r records"
                 % (runs[0]["records"], runs[0]["ranks"], got["attrs"]["records"]))
        elif runs[0]["planned_bytes"] != runs[1]["planned_bytes"] or "records" in runs[1]:
            fail("--json --dry-run: not the run's plan: %r" % runs[1])
        elif set(runs[0]["stages_s"]) != set(STAGES) - {"total"}:
            fail("--json: stages %r" % sorted(runs[0]["stages_s"]))
        else:
            print("ok    --json without --bench: a ctxpar-run line per run, the plan's with "
                  "--dry-run")
    # A run that fails writes nothing and leaves no file it created.
    failed = os.path.join(d, "failed.jsonl")
    p = ctxpar(2, *COMMON, "--frames", 13, "--json", failed, "--out", os.path.join(d, "x.h5"))
    if p.returncode == 0 or os.path.exists(failed):
        fail("--json with a failing run: exit %d, file left: %s" % (p.returncode,
                                                                    os.path.exists(failed)))

    # The sweep at 1 and 2 ranks, then the plot.
    sweep = os.path.join(d, "sweep")
    env = dict(ENV, CTXPAR_BIN=CTXPAR, CTXPAR_MPIEXEC=MPIEXEC)
    p = subprocess.run(["bash", os.path.join(ROOT, "launch", "scaling_sweep.sh"), "--ranks",
                        "1 2", "--preset", "tiny", "--size", "64x64", "--frames", "16",
                        "--frames-per-rank", "8", "--repeat", "2", "--warmup", "1",
                        "--out-dir", sweep], capture_output=True, text=True, timeout=300,
                       env=env)
    if p.returncode != 0:
        raise RuntimeError("scaling_sweep.sh failed (%d):\n%s%s" % (p.returncode, p.stdout,
                                                                    p.stderr))
    for kind, frames in (("strong", {1: 16, 2: 16}), ("weak", {1: 8, 2: 16})):
        got = read_lines(os.path.join(sweep, kind + ".jsonl"))
        if [(r["ranks"], r["frames"]) for r in got] != sorted(frames.items()):
            fail("%s.jsonl: (ranks, frames) %r, expected %r" % (
                kind, [(r["ranks"], r["frames"]) for r in got], sorted(frames.items())))
    # A bad point is refused before anything runs.
    p = subprocess.run(["bash", os.path.join(ROOT, "launch", "scaling_sweep.sh"), "--ranks",
                        "1 2", "--preset", "tiny", "--size", "64x64", "--frames", "6",
                        "--out-dir", os.path.join(d, "bad")], capture_output=True, text=True,
                       timeout=120, env=env)
    if p.returncode == 0 or "multiple" not in p.stderr or os.path.exists(
            os.path.join(d, "bad", "strong.jsonl")):
        fail("sweep with --frames 6: exit %d, stderr %r" % (p.returncode, p.stderr[-400:]))

    png = os.path.join(d, "scaling.png")
    plot = [sys.executable,
            os.path.join(ROOT, "launch", "plot_scaling.py")]
    p = subprocess.run(plot + [os.path.join(sweep, "strong.jsonl"),
                               os.path.join(sweep, "weak.jsonl"), "-o", png],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail("plot_scaling.py failed (%d): %s" % (p.returncode, p.stderr))
    elif not os.path.isfile(png) or os.path.getsize(png) < 1000:
        fail("plot_scaling.py wrote no PNG (or a tiny one)")
    else:
        with open(png, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                fail("%s does not start with the PNG signature" % png)
    empty = os.path.join(d, "empty.jsonl")
    open(empty, "w").close()
    p = subprocess.run(plot + [empty, "-o", os.path.join(d, "empty.png")],
                       capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "no JSON lines" not in p.stderr:
        fail("plot of an empty file: exit %d, stderr %r" % (p.returncode, p.stderr))

    finish("e2e_bench")


if __name__ == "__main__":
    main()
