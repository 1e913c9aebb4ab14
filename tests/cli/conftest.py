"""Fixtures of the command-line tests.

- the loopback servers (``served``/``server``: the synthetic catalog;
  ``demo_served``/``demo_server``: the demo), from support/loopback.py;
- ``run_cli``: ``run_cli(*args, stdin=None)`` runs the command line in-process, as a user
  would, and returns ``(exit code, stdout, stderr)`` (support/cli_helpers.py, which also
  has ``fresh_dir``, ``assert_one_line_error`` and the demo ids).
"""

import pytest

import cli_helpers
from loopback import demo_served, demo_server, served, server  # noqa: F401


@pytest.fixture(scope="session")
def run_cli():
    """:func:`cli_helpers.run_cli` (session-scoped: usable in hypothesis tests)."""
    return cli_helpers.run_cli
