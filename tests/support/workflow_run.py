"""Driving a session workflow generator (``session.workflow``) to its end, as a napari
worker would, without Qt.

Import explicitly (``from workflow_run import run``).
"""

from __future__ import annotations


def run(gen):
    """Drive a workflow generator to its end; returns (steps, result)."""
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as stop:
        return steps, stop.value
