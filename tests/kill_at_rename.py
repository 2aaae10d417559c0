"""Run `snekner ARGS...` and SIGKILL it at one write boundary: just before or just after its N-th rename.

    python tests/kill_at_rename.py N before|after ARGS...    (N = 0: kill nowhere; print the count of renames)

Every artifact snekner writes becomes visible by a rename (store.atomic: os.replace, or a folder
exchange), so these are the boundaries at which a kill -9 can leave a different state on disk.
A kill runs no clean-up, which is the point: what is on disk then must be something every later
command either accepts whole or refuses in one line. Renames by libraries (TensorFlow's checkpoint
writer) are not counted: they go through C++, not os.replace.
"""
from __future__ import annotations

import os
import signal
import sys


def main() -> None:
    target, when, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    from snekner.store import atomic

    count = 0

    def boundary(rename):
        def counted(*a, **k):
            nonlocal count
            count += 1
            if count == target and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = rename(*a, **k)
            if count == target and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result
        return counted

    os.replace = boundary(os.replace)
    atomic._exchange = boundary(atomic._exchange)
    from snekner.cli import app

    try:
        app(args, prog_name="snekner")
    finally:
        print(f"renames: {count}", file=sys.stderr)


if __name__ == "__main__":
    main()
