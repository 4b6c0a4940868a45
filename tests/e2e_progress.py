"""Progress on rank 0: a bar with stage, percentage and ETA on a terminal;
timestamped plain lines when stdout is a file or pipe (as in a Slurm log,
even though mpirun hands its ranks a pseudo-terminal); nothing with --quiet."""
import os
import pty
import re
import subprocess

from e2e_common import *

ARGS = ["--preset", "tiny", "--frames", 16, "--size", "64x64", "--threads", 1, "--overwrite"]
STAGES = ("input", "vae", "tokens", "transformer", "merge", "output")


def command(out, *extra):
    return mpirun(2) + [CTXPAR] + [str(a) for a in ARGS] + \
        ["--out", out] + list(extra)


def main():
    d = scratch_dir("ctxpar-progress-")
    out = os.path.join(d, "out.h5")

    # Pipe: plain timestamped lines, one "done" line per stage, no carriage returns.
    p = subprocess.run(command(out), capture_output=True, text=True, timeout=120, env=ENV)
    if p.returncode != 0:
        fail("piped run failed: " + p.stderr[-1000:])
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (\w+) ")
    lines = [l for l in p.stdout.splitlines() if stamp.match(l)]
    for s in STAGES:
        if not any(l.split()[1] == s and "done in" in l for l in lines):
            fail("no timestamped 'done' line for stage %s in:\n%s" % (s, p.stdout))
    if not any("%" in l and "ETA" in l for l in lines):
        fail("no percentage/ETA line in:\n%s" % p.stdout)
    if "\r" in p.stdout:
        fail("carriage returns in a piped log")

    # --quiet: nothing on stdout at all.
    p = subprocess.run(command(out, "--quiet"), capture_output=True, text=True, timeout=120,
                       env=ENV)
    if p.returncode != 0 or p.stdout.strip():
        fail("--quiet printed: %r" % p.stdout[:500])

    # Terminal: a bar redrawn with carriage returns, with percentage and ETA.
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(MPIEXEC, command(out), ENV)
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode(errors="replace")
    if os.WEXITSTATUS(status) != 0:
        fail("terminal run failed:\n" + text[-1000:])
    if not re.search(r"\rvae +\[#+\.*\] +\d+\.\d% +ETA", text):
        fail("no progress bar for the vae stage on a terminal:\n%r" % text[:2000])
    if re.search(r"^\d{4}-\d\d-\d\dT", text, re.M):
        fail("timestamped log lines on a terminal")
    finish("e2e_progress")


main()
