#!/usr/bin/env python3
"""Plot scaling sweeps: the JSON lines of `ctxpar --bench --json` (as written
by launch/scaling_sweep.sh) turned into one PNG with two panels, throughput
(frames/s) against ranks and parallel efficiency against ranks, one line per
input file (e.g. strong.jsonl and weak.jsonl).

    python3 launch/plot_scaling.py DIR/strong.jsonl DIR/weak.jsonl -o DIR/scaling.png

Throughput is frames / median total time; the error bars span frames / max
and frames / min total over the timed runs. Efficiency is
(throughput_p / throughput_pmin) * (pmin / p), with pmin the fewest ranks in
that file: 1.0 is perfect scaling, for a fixed video (strong) and for a video
that grows with the ranks (weak) alike. When a file holds several lines for
one rank count (a sweep run twice with --append), the last one counts.

Only the Python standard library and gnuplot (Debian: gnuplot-nox) are needed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

REQUIRED = ("ranks", "frames", "frames_per_s", "stages_s")


def die(message):
    print("plot_scaling: " + message, file=sys.stderr)
    sys.exit(1)


def read_points(path):
    """{ranks: (throughput, low, high, record)} of one JSON-lines file."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError as e:
        die("cannot read %s: %s" % (path, e.strerror))
    points = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as e:
            die("%s line %d is not JSON (%s); expected the lines of ctxpar --bench --json"
                % (path, number, e))
        missing = [k for k in REQUIRED if k not in record]
        if not isinstance(record, dict) or missing:
            die("%s line %d lacks %s; expected the lines of ctxpar --bench --json"
                % (path, number, ", ".join(missing) or "an object"))
        total = record["stages_s"]["total"]
        frames = float(record["frames"])
        high = frames / total["min"] if total["min"] > 0 else 0.0
        low = frames / total["max"] if total["max"] > 0 else 0.0
        points[int(record["ranks"])] = (float(record["frames_per_s"]), low, high, record)
    if not points:
        die("%s has no JSON lines; run launch/scaling_sweep.sh (or ctxpar --bench --json %s) "
            "first" % (path, path))
    return points


def label_of(path, points):
    name = os.path.basename(path)
    if name.endswith(".jsonl"):
        name = name[:-len(".jsonl")]
    first = points[min(points)][3]
    frames = sorted({points[p][3]["frames"] for p in points})
    what = ("%d frames" % frames[0]) if len(frames) == 1 else (
        "%d frames/rank" % (first["frames"] // max(first["ranks"], 1)))
    return "%s (%s, %s %dx%d)" % (name, what, first.get("preset") or "model file",
                                  first["width"], first["height"])


def png_terminal():
    """pngcairo when this gnuplot has it (antialiased), else the libgd png."""
    p = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    names = {line.split()[0] for line in (p.stdout + p.stderr).splitlines() if line.strip()}
    if "pngcairo" in names:
        return "pngcairo size 1100,440 font 'sans,10'"
    if "png" in names:
        return "png size 1100,440"
    die("this gnuplot has no PNG terminal (pngcairo or png); install gnuplot-nox")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="JSON-lines files, one plotted line each")
    parser.add_argument("-o", "--output", required=True, help="the PNG to write")
    parser.add_argument("--title", default=None, help="title over both panels")
    args = parser.parse_args()

    if shutil.which("gnuplot") is None:
        die("gnuplot not found on PATH; install it (Debian: apt-get install gnuplot-nox)")
    series = [(path, read_points(path)) for path in args.files]
    terminal = png_terminal()

    all_ranks = sorted({p for _, points in series for p in points})
    first = series[0][1][min(series[0][1])][3]
    title = args.title or "ctxpar %s scaling: %s, %d thread(s) per rank, device %s" % (
        first.get("version", "?"), first.get("preset") or "model file", first["threads"],
        first.get("device", "?"))

    with tempfile.TemporaryDirectory(prefix="ctxpar-plot-") as tmp:
        data_files = []
        for i, (path, points) in enumerate(series):
            pmin = min(points)
            base = points[pmin][0]
            data = os.path.join(tmp, "series%d.dat" % i)
            with open(data, "w") as f:
                f.write("# ranks throughput low high efficiency\n")
                for p in sorted(points):
                    thr, low, high, _ = points[p]
                    eff = (thr / base) * (pmin / p) if base > 0 else 0.0
                    f.write("%d %.9g %.9g %.9g %.9g\n" % (p, thr, low, high, eff))
            data_files.append((data, label_of(path, points)))

        def quoted(text):
            return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"')

        xtics = ", ".join('"%d" %d' % (p, p) for p in all_ranks)
        script = [
            "set terminal %s" % terminal,
            "set termoption noenhanced",
            "set output %s" % quoted(args.output),
            "set multiplot layout 1,2 title %s" % quoted(title),
            "set logscale x 2",
            "set xrange [%g:%g]" % (min(all_ranks) / 1.3, max(all_ranks) * 1.3),
            "set xtics (%s)" % xtics,
            "set xlabel 'ranks'",
            "set grid",
            "set key bottom right",
            "set title 'throughput (median; bars: min to max run)'",
            "set ylabel 'frames/s'",
            "set yrange [0:*]",
            "plot " + ", ".join(
                "%s using 1:2:3:4 with yerrorlines lc %d lw 2 pt 7 title %s"
                % (quoted(d), i + 1, quoted(l)) for i, (d, l) in enumerate(data_files)),
            "set title 'parallel efficiency (throughput_p / throughput_pmin x pmin / p)'",
            "set ylabel 'efficiency'",
            "set yrange [0:1.2]",
            "set key bottom left",
            "plot 1 with lines lc 'gray' dt 2 title 'ideal', " + ", ".join(
                "%s using 1:5 with linespoints lc %d lw 2 pt 7 title %s"
                % (quoted(d), i + 1, quoted(l)) for i, (d, l) in enumerate(data_files)),
            "unset multiplot",
        ]
        gp = os.path.join(tmp, "plot.gp")
        with open(gp, "w") as f:
            f.write("\n".join(script) + "\n")
        p = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if p.returncode != 0:
            die("gnuplot failed (%d):\n%s" % (p.returncode, p.stderr.strip()))
    if not os.path.isfile(args.output) or os.path.getsize(args.output) == 0:
        die("gnuplot wrote no %s" % args.output)
    for path, points in series:
        pmin = min(points)
        effs = ", ".join("%d: %.2f" % (p, (points[p][0] / points[pmin][0]) * (pmin / p))
                         for p in sorted(points))
        print("%s: efficiency by ranks %s" % (path, effs))
    print("wrote %s" % args.output)


if __name__ == "__main__":
    main()
