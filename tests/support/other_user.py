"""Running a check as another user (``nobody``, through ``setpriv``): root writes into
read-only folders, so the read-only cases are checked as a user who cannot.

Import explicitly (``from other_user import AS_NOBODY, skip_unless_nobody_imports``).
"""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest

#: The command prefix that runs the rest as user and group 65534 (nobody).
AS_NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


@functools.cache
def _nobody_import_problem() -> str | None:
    """Why user nobody cannot import the package from this checkout (None if it can)."""
    done = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import napari_allen_sync"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode == 0:
        return None
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no reason given"


def skip_unless_nobody_imports() -> None:
    """Skip when user nobody cannot run the package here: ``setpriv`` is not allowed,
    or the checkout or its environment is not readable by other users (a clone in a
    private temporary folder); the check itself then says nothing."""
    problem = _nobody_import_problem()
    if problem is not None:
        pytest.skip(f"user nobody cannot import napari_allen_sync from this checkout: "
                    f"{problem}")
