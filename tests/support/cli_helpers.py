"""Running the command line in-process, as a user would, with its streams captured.

Import explicitly (``from cli_helpers import run_cli``).
"""

from __future__ import annotations

import io
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from napari_allen_sync.cli import main
from napari_allen_sync.demo import DemoSource, demo_click

#: The demo's seed image and the click the demo opens on.
SEED, CLICK_X, CLICK_Y = demo_click()
#: Two demo data sets to synchronize into.
TARGETS = (900100002, 900100003)
DEMO = DemoSource()


def run_cli(*args, stdin: bytes | None = None) -> tuple[int, str, str]:
    """``main(args)`` with ``stdin`` as standard input; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        sys.stdin = old
    return code, out.getvalue(), err.getvalue()


def fresh_dir() -> Path:
    """A new empty folder (hypothesis examples cannot use function-scoped tmp_path)."""
    return Path(tempfile.mkdtemp(prefix="nas-cli-"))


def assert_one_line_error(code: int, err: str, status: int = 2, prefix="sync") -> str:
    """The error contract: the status, one line ``napari-allen-sync CMD: error: ...``,
    no traceback. Returns the line."""
    assert code == status, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"napari-allen-sync {prefix}: error: "), err
    return lines[0]
