"""Sum py-spy's collapsed stacks (`record -f raw`) by function: where a server worker's samples went.

    python bench/py_spy_top.py DIR_OR_FILES... [--top 40] [--match TEXT]

Prints the share of samples each function is on the stack for (inclusive) and at the top of (self), and with
--match the inclusive share of the frames whose text contains TEXT (a module, say `registry/audit.py`)."""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME_LINE = re.compile(r":\d+\)$")


def _frame(text: str) -> str:
    # "func (path/file.py:123)" -> "func (path/file.py)": one entry per function, not per line.
    return _FRAME_LINE.sub(")", text)


def read(paths: list[Path], within: str = "") -> tuple[Counter[str], Counter[str], int]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            found = _LINE.match(line)
            if not found:
                continue
            if within not in found[1]:
                continue
            frames = [_frame(f) for f in found[1].split(";")]
            count = int(found[2])
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    return inclusive, own, total


def _stacks(paths: list[Path]) -> list[tuple[str, int]]:
    out = []
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            if found := _LINE.match(line):
                out.append((found[1], int(found[2])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--match", action="append", default=[])
    # Idle threads (the supervisor's pong, the log queue's wait) show up as samples too: --within "Handle._run"
    # keeps the event loop's work only.
    parser.add_argument("--within", default="", help="only the samples whose stack contains this text")
    args = parser.parse_args(argv)
    files = [f for p in args.paths for f in (sorted(p.glob("*.txt")) if p.is_dir() else [p])]
    inclusive, own, total = read(files, args.within)
    if not total:
        print("no samples")
        return 1
    print(f"{total} samples from {len(files)} file(s)")
    print("\ninclusive (on the stack):")
    for frame, count in inclusive.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("\nself (at the top):")
    for frame, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    for text in args.match:
        # A sample counts once however many of its frames match.
        hits = sum(c for stack, c in _stacks(files) if text in stack and args.within in stack)
        print(f"frames matching {text!r}: {100 * hits / total:.1f}% of samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
