"""TensorFlow's start-up log, which TF_CPP_MIN_LOG_LEVEL cannot silence.

TensorFlow logs through Abseil, and Abseil writes whatever is logged before `absl::InitializeLog()`
to stderr at every level (abseil-cpp#1718): on import each of TensorFlow's two libraries says that
oneDNN is on and that no CUDA driver was found, and the first look for devices adds "failed call
to cuInit" where there is no GPU. So that an error line is not the last of eight, the command line
imports TensorFlow, and lists its devices, with file descriptor 2 (where C++ writes) sent to a
temporary file, and then passes on all but the lines in Abseil's log format.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile

# Abseil's log line ("I0000 00:00:1796180605.234981   15671 port.cc:153] ...": before InitializeLog the time
# is seconds since 1970) and its banner
_LOG_LINE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^\]]+\] |WARNING: All log messages before absl::InitializeLog\(\))")


@contextlib.contextmanager
def abseil_log_dropped():
    """In the block, what C++ code writes to stderr is held back; afterwards all but Abseil's log lines go on."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = b"".join(line for line in held if not _LOG_LINE.match(line))
            if kept:
                os.write(2, kept)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds the package `tensorflow` as Python would, and has it executed under `abseil_log_dropped`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_quietly(module):
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)  # once imported, `tensorflow` is found in sys.modules
            with abseil_log_dropped():
                exec_module(module)
                module.config.list_physical_devices()  # the first look for devices, with cuInit's complaint

        spec.loader.exec_module = exec_quietly
        return spec


def quiet_tensorflow_startup() -> None:
    """Have TensorFlow imported, if a command imports it, without its start-up log (unless
    TF_CPP_MIN_LOG_LEVEL asks for info or warnings)."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1"):
        return
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
