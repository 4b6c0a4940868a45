"""Bad-input cases for model-family folders, shared by the families' drivers:
copies of a good folder broken one way each (config, tensors, or the raw
safetensors header), and a case runner that starts ctxpar on 2 ranks and
expects a nonzero exit within a time bound, one error line naming the problem
(checked loosely: substrings, shapes however spelled, whole numbers), and
nothing left at the output path or beside it."""
import json
import os
import re
import shutil
import struct
import subprocess
import time

import e2e_common as e2e


def shape_text(msg):
    """The message with shapes spelled alike: [8, 3, 3], (8,3,3), 8x3x3 -> 8,3,3."""
    return re.sub(r"(?<=\d)x(?=\d)", ",", re.sub(r"[\s\[\]()]", "", msg))


class BadFolders:
    def __init__(self, prefix, weights, make_folder, extra_args=()):
        self.dir = e2e.scratch_dir(prefix)
        self.out = os.path.join(self.dir, "out.h5")
        self.weights = weights
        self.make_folder = make_folder
        self.extra_args = list(extra_args)

    def variant(self, good, name, edit):
        """A copy of the good folder, changed by edit(folder)."""
        folder = os.path.join(self.dir, name)
        shutil.copytree(good, folder)
        edit(folder)
        return folder

    def read_raw(self, folder):
        with open(os.path.join(folder, self.weights), "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        return json.loads(data[8:8 + n]), data[8 + n:]

    def write_raw(self, folder, header, body, header_bytes=None, length=None):
        text = header_bytes if header_bytes is not None else json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        with open(os.path.join(folder, self.weights), "wb") as f:
            f.write(struct.pack("<Q", len(text) if length is None else length))
            f.write(text)
            f.write(body)

    def edit_header(self, fn):
        def edit(folder):
            header, body = self.read_raw(folder)
            fn(header)
            self.write_raw(folder, header, body)
        return edit

    def edit_config(self, fn):
        def edit(folder):
            path = os.path.join(folder, "config.json")
            with open(path) as f:
                config = json.load(f)
            fn(config)
            with open(path, "w") as f:
                json.dump(config, f)
        return edit

    def edit_tensors(self, fn):
        def edit(folder):
            with open(os.path.join(folder, "config.json")) as f:
                config = json.load(f)
            tensors = self.make_folder.make_tensors(config, seed=1)
            fn(tensors)
            self.make_folder.write_safetensors(os.path.join(folder, self.weights), tensors, "F32")
        return edit

    def case(self, name, args, expect, shapes=(), any_of=(), numbers=()):
        """expect: substrings that must all appear in one error line (case-insensitive);
        shapes: shapes (lists) that must appear in that line, however spelled;
        any_of: at least one of these substrings; numbers: integers that must appear
        as whole numbers (not as digits of another number)."""
        leftovers = (self.out, self.out + ".ctxpar-partial")
        for p in leftovers:
            if os.path.exists(p):
                os.remove(p)
        cmd = e2e.mpirun(2) + [e2e.CTXPAR] + [str(a) for a in args]
        cmd += ["--out", self.out, "--quiet", "--threads", "1"] + self.extra_args
        start = time.time()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=e2e.ENV)
        except subprocess.TimeoutExpired:
            e2e.fail("%s: hung (no exit within 120 s)" % name)
            return
        took = time.time() - start
        before = len(e2e.failures)
        errors = [l for l in p.stderr.splitlines() if l.startswith("ctxpar")]
        if p.returncode == 0:
            e2e.fail("%s: exit status 0" % name)

        def matches(line):
            low = line.lower()
            if not all(e.lower() in low for e in expect):
                return False
            if any_of and not any(e.lower() in low for e in any_of):
                return False
            if not all(re.search(r"(?<![\d.])%d(?![\d.])" % n, line) for n in numbers):
                return False
            spelled = shape_text(line)
            return all(",".join(str(n) for n in s) in spelled for s in shapes)

        if not any(matches(l) for l in errors):
            want = list(expect) + ["shape %s" % list(s) for s in shapes] + list(numbers)
            want += ["one of %s" % list(any_of)] if any_of else []
            e2e.fail("%s: no error line naming %s in: %s"
                     % (name, want, " | ".join(errors) or p.stderr[-800:]))
        left = [q for q in leftovers if os.path.exists(q)]
        if left:
            e2e.fail("%s: left behind %s" % (name, left))
        line = next((l for l in errors if matches(l)), errors[0] if errors else "")
        print("%-4s %-28s exit %d in %.1fs: %s" % ("ok" if len(e2e.failures) == before else "FAIL",
                                                   name, p.returncode, took, line.strip()[:200]))
