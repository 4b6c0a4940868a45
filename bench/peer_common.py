"""What the PyPI peers (vjepa2_transformers.py, cogvideox_diffusers.py)
share: the CPU's name for their output, the warm-up + repeat timing with
its median, and the JSON line appended to --json."""
import json
import statistics
import time


def cpu_name():
    with open("/proc/cpuinfo") as f:
        return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")


def time_runs(fn, warmup, repeat):
    """(last result, [seconds of each timed run], median) of fn() after warm-up."""
    times, result = [], None
    for r in range(warmup + repeat):
        t0 = time.perf_counter()
        result = fn()
        took = time.perf_counter() - t0
        if r >= warmup:
            times.append(took)
    return result, times, statistics.median(times)


def emit(record, path):
    """Prints the record as a JSON line and appends it to path when given."""
    print(json.dumps(record))
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
