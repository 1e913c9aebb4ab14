"""Fixtures of the HTTP tests: the loopback servers (``served``/``server``: the
synthetic catalog; ``demo_served``/``demo_server``: the demo), from support/loopback.py."""

from loopback import demo_served, demo_server, served, server  # noqa: F401
