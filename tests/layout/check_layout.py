"""The include graph obeys the house's layout (docs/architecture.md).

A module is a .c file and the .h of the same name. The check reads every
"..." include of base/, kernels/, comm/, runtime/ and launch/ and fails when
  - two modules include each other, directly or around a longer cycle;
  - a file includes a file of a higher room, or of a sibling room of the
    same height (kernels/ and comm/ know nothing of each other, nor do
    runtime/families/ and runtime/input/);
  - runtime/'s largest room holds a third of runtime/'s lines or more.
Tests, benchmarks and generated headers are outside the graph.

  python3 check_layout.py [SOURCE_ROOT]
"""
import os
import re
import sys

# Rooms, lowest first; rooms of the same height may not include each other.
ROOMS = [
    ("base", 0),
    ("kernels", 1), ("comm", 1),
    ("runtime/core", 2),
    ("runtime/formats", 3),
    ("runtime/model", 4),
    ("runtime/families", 5), ("runtime/input", 5),
    ("runtime/stages", 6),
    ("runtime", 7),
    ("launch", 8),
]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path):
    best = None
    for room, height in ROOMS:
        if path == room or path.startswith(room + "/"):
            if best is None or len(room) > len(best[0]):
                best = (room, height)
    return best


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    files = []
    for top in ("base", "kernels", "comm", "runtime", "launch"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in names:
                if n.endswith((".c", ".h", ".cu")):
                    files.append(os.path.relpath(os.path.join(d, n), root))
    known = set(files)
    errors = []
    edges = {}
    for f in sorted(files):
        text = open(os.path.join(root, f), encoding="utf-8").read()
        mod = os.path.splitext(f)[0]
        for inc in INCLUDE.findall(text):
            target = inc if inc in known else os.path.normpath(os.path.join(os.path.dirname(f), inc))
            if target not in known:
                continue  # generated (ctxpar_version.h) or system
            tmod = os.path.splitext(target)[0]
            if tmod != mod:
                edges.setdefault(mod, set()).add(tmod)
            src_room, tgt_room = room_of(f), room_of(target)
            if src_room[0] != tgt_room[0] and tgt_room[1] >= src_room[1]:
                errors.append(f"{f} includes {target}: room {tgt_room[0]} is not below "
                              f"{src_room[0]}")
    # cycles: Tarjan's strongly connected components
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            strong(v)
    for comp in comps:
        errors.append("include cycle between modules: " + " <-> ".join(comp))
    # room sizes
    lines = {}
    for f in files:
        if f.startswith("runtime/"):
            room = room_of(f)[0]
            lines[room] = lines.get(room, 0) + sum(1 for _ in open(os.path.join(root, f)))
    total = sum(lines.values())
    for room in sorted(lines, key=lambda r: -lines[r]):
        print(f"  {room:18s} {lines[room]:6d} lines  {100.0 * lines[room] / total:5.1f}%")
    largest = max(lines, key=lambda r: lines[r])
    if 3 * lines[largest] >= total:
        errors.append(f"{largest} holds {lines[largest]} of runtime/'s {total} lines "
                      "(a third or more): split it")
    n_edges = sum(len(v) for v in edges.values())
    print(f"{len(files)} files, {len(set(edges) | {w for ws in edges.values() for w in ws})} "
          f"modules, {n_edges} include edges between modules")
    for e in errors:
        print("FAIL:", e)
    if errors:
        sys.exit(1)
    print("layout ok: no include cycles, every room includes only lower rooms")


if __name__ == "__main__":
    main()
