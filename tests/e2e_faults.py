"""Faults a batch job meets: preemption (SIGTERM to every rank, as Slurm
sends), Ctrl-C (SIGINT), a signal to mpirun itself, one rank killed with
SIGKILL, a full disk and a read-only output directory. Each case checks the
exit status, a time bound, the message, and that nothing that looks finished
is at the output path (no output file; no temporary file either). The disk
cases (--part disk, their own CTest entry) mount small tmpfs file systems,
which needs root (as CI runs); without it they say "skipped" and exit 77,
which CTest reports as skipped. The signal cases are --part signals.

Signals are sent once rank 0 reports the VAE stage (progress lines on stdout),
so they land mid-run, after the handlers are installed."""
import os
import signal
import subprocess
import sys
import time

from e2e_common import *

d = scratch_dir("ctxpar-faults-")
# Long enough (tens of seconds on 2 ranks) that every signal lands mid-run.
LONG_RUN = ["--preset", "small", "--frames", 128, "--size", "256x256", "--threads", 1]
STOP_BOUND = 15.0   # seconds from the signal to mpirun's exit
KILL_BOUND = 30.0


def start(out, ranks=2, args=LONG_RUN):
    return start_until(ranks, list(args) + ["--out", out], lambda line: " vae " in line,
                       "the VAE stage")


def left_behind(out):
    return [f for f in (out, out + ".ctxpar-partial") if os.path.exists(f)]


def signal_case(name, sig, target, expect_rc, expect_msg, bound=STOP_BOUND):
    out = os.path.join(d, name.replace(" ", "_") + ".h5")
    p = start(out)
    kids = ranks_of(p.pid)
    if len(kids) != 2:
        fail("%s: expected 2 ranks under mpirun, found %s" % (name, kids))
    t0 = time.time()
    if target == "mpirun":
        os.kill(p.pid, sig)
    elif target == "all":
        for k in kids:
            os.kill(k, sig)
    else:
        os.kill(kids[target], sig)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("%s: still running 120 s after the signal" % name)
        return
    took = time.time() - t0
    if expect_rc is None:
        if p.returncode == 0:
            fail("%s: exit status 0" % name)
    elif p.returncode != expect_rc:
        fail("%s: exit status %d, expected %d\n%s" % (name, p.returncode, expect_rc, err[-2000:]))
    if took > bound:
        fail("%s: took %.1f s to stop, bound %.0f s" % (name, took, bound))
    if expect_msg and expect_msg not in err:
        fail("%s: no %r in stderr:\n%s" % (name, expect_msg, err[-2000:]))
    if left_behind(out):
        fail("%s: left %s" % (name, left_behind(out)))
    print("ok  %-34s exit %d, stopped %.1f s after the signal" % (name, p.returncode, took))


def mount_tmpfs(path, options):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path],
                       capture_output=True, text=True)
    return r.returncode == 0


def skip_without_tmpfs():
    """The disk cases need to mount a tmpfs: without root (or where mounting
    is refused) the whole part is skipped, said so, exit 77."""
    probe = os.path.join(d, "probe")
    if os.geteuid() != 0 or not mount_tmpfs(probe, "size=64k"):
        print("skipped: the disk cases mount small tmpfs file systems, which needs root")
        sys.exit(77)
    subprocess.run(["umount", probe])


def disk_case(name, options, expect_msg):
    mnt = os.path.join(d, name.replace(" ", "_"))
    if not mount_tmpfs(mnt, options):
        fail("%s: mounting a tmpfs (%s) failed" % (name, options))
        return
    try:
        out = os.path.join(mnt, "out.h5")
        args = ["--preset", "tiny", "--frames", 16, "--size", "256x256", "--no-merge",
                "--save-latents", "--out", out]
        t0 = time.time()
        p = run(2, *args, check=False, timeout=120)
        took = time.time() - t0
        if p.returncode == 0:
            fail("%s: exit status 0" % name)
        if expect_msg.lower() not in p.stderr.lower():
            fail("%s: no %r in stderr:\n%s" % (name, expect_msg, p.stderr[-2000:]))
        if left_behind(out):
            fail("%s: left %s" % (name, left_behind(out)))
        line = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")][:1]
        print("ok  %-34s exit %d in %.1f s: %s" % (name, p.returncode, took,
                                                   line[0] if line else ""))
    finally:
        subprocess.run(["umount", mnt])


def disk_fills_case():
    """The disk fills while the run computes: the write fails with a message
    naming the full file system, and nothing is left."""
    name = "disk fills during the run"
    mnt = os.path.join(d, "fills")
    if not mount_tmpfs(mnt, "size=12m"):
        fail("%s: mounting a tmpfs failed" % name)
        return
    try:
        out = os.path.join(mnt, "out.h5")
        p = start(out, args=["--preset", "small", "--frames", 32, "--size", "256x256",
                             "--threads", 1, "--no-merge", "--save-latents"])
        st = os.statvfs(mnt)
        with open(os.path.join(mnt, "filler"), "wb") as f:
            f.write(b"\0" * (st.f_bavail * st.f_frsize - 256 * 1024))
        t0 = time.time()
        _, err = p.communicate(timeout=120)
        if p.returncode == 0:
            fail("%s: exit status 0" % name)
        if "file system is full" not in err and "No space left on device" not in err:
            fail("%s: no message about the full disk:\n%s" % (name, err[-2000:]))
        if left_behind(out):
            fail("%s: left %s" % (name, left_behind(out)))
        print("ok  %-34s exit %d, %.1f s after the disk filled" % (name, p.returncode,
                                                                 time.time() - t0))
    finally:
        subprocess.run(["umount", mnt])


def main(part):
    if part == "signals":
        signal_case("SIGTERM to every rank", signal.SIGTERM, "all", 143,
                    "stopped by SIGTERM (exit 143)")
        signal_case("SIGINT to one rank", signal.SIGINT, 1, 130, "stopped by SIGINT (exit 130)")
        # mpirun ends its ranks with SIGTERM and exits 1 by its own rule.
        signal_case("SIGTERM to mpirun", signal.SIGTERM, "mpirun", None, "stopped by SIGTERM")
        signal_case("SIGKILL of one rank", signal.SIGKILL, 1, None, None, bound=KILL_BOUND)
    else:
        skip_without_tmpfs()
        disk_case("disk too small for the output", "size=512k", "MiB free")
        disk_fills_case()
        disk_case("read-only output directory", "ro,size=1m", "Read-only file system")
    finish("e2e_faults --part " + part)


if len(sys.argv) != 3 or sys.argv[1] != "--part" or sys.argv[2] not in ("signals", "disk"):
    sys.exit("usage: e2e_faults.py --part signals|disk")
main(sys.argv[2])
