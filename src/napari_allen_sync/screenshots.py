"""Regenerate the README's screenshots headless: ``python -m napari_allen_sync.screenshots DIR``.

Every picture is made by the project's own commands, as a user would run them:

- ``demo-section.png``: the demo Penk in-situ section through the striatum's centre
  (found with ``structure_to_image``), written by ``napari-allen-sync image``;
- ``demo-atlas-plate.png``: annotated plate 68 of the demo P56 coronal atlas;
- ``demo.png``: ``napari-allen-sync demo --screenshot`` — napari with the widget, a real
  left click on the seed section, the synchronized targets and atlas (needs a display:
  ``make screenshots`` runs it under Xvfb);
- ``demo-default-window.png``: the same at napari's default window size;
- ``demo-live.png``: ``demo --scene live``: live sync on, the cursor moved over the seed
  with real mouse events, the markers following it;
- ``demo-batch.png``: ``demo --scene batch``: demo cell detections on the seed
  synchronized by the dock's "Sync layer" button to every target and the atlas;
- ``served-overlays.png``: against a local ``napari-allen-sync serve --demo`` over HTTP
  (the dock's Custom server source, as a real Allen-compatible server is used), at
  napari's default window size: a real click, the annotated atlas plate, every
  target's expression or projection overlay turned on by its checkbox, and a search
  by gene ("gad1") in the dock's Find experiments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

STRIATUM = 477
#: Seconds the served scene may take (server start, downloads, drawing).
SERVED_TIMEOUT_S = 300.0


def _cli(*args: str, env=None) -> None:
    cmd = [sys.executable, "-m", "napari_allen_sync.cli", *args]
    print("+ napari-allen-sync", " ".join(args), file=sys.stderr)
    subprocess.run(cmd, check=True, timeout=600, env=env)


def main(argv=None) -> int:
    """Write the screenshots into the folder given (default ``screenshots``)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--served"]:
        return served_scene(Path(argv[1]))
    out = Path(argv[0] if argv else "screenshots")
    out.mkdir(parents=True, exist_ok=True)

    from .demo import DEMO_SEED_DATA_SET_ID, demo_catalog
    from .synchronizer import Synchronizer

    sync = Synchronizer(demo_catalog())
    (penk,) = sync.structure_to_image(DEMO_SEED_DATA_SET_ID, [STRIATUM])
    section = penk["image_sync"]["section_image_id"]
    _cli("image", "--demo", "--section-image-id", str(section), "-o", str(out / "demo-section.png"))
    _cli("image", "--demo", "--atlas-plate", "68", "-o", str(out / "demo-atlas-plate.png"))
    _cli("demo", "--screenshot", str(out / "demo.png"))
    # napari restores the last window size from its settings: fresh settings give its
    # own default size, as a first-time user sees it
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NAPARI_CONFIG": os.path.join(tmp, "settings.yaml")}
        _cli("demo", "--window", "default", "--screenshot",
             str(out / "demo-default-window.png"), env=env)
    _cli("demo", "--scene", "live", "--screenshot", str(out / "demo-live.png"))
    _cli("demo", "--scene", "batch", "--screenshot", str(out / "demo-batch.png"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NAPARI_CONFIG": os.path.join(tmp, "settings.yaml")}
        cmd = [sys.executable, "-m", "napari_allen_sync.screenshots", "--served",
               str(out / "served-overlays.png")]
        print("+ python -m napari_allen_sync.screenshots --served", file=sys.stderr)
        subprocess.run(cmd, check=True, timeout=SERVED_TIMEOUT_S + 60, env=env)
    return 0


def served_scene(path) -> int:
    """The dock against a local ``serve --demo``: the demo's seed, targets and atlas, a
    real click at the demo point, every target's overlay on; the window saved to ``path``."""
    import time

    import napari
    from qtpy.QtCore import QThreadPool

    from . import demo
    from ._napari.canvas import canvas_widget, process_events_until, send_click
    from ._napari.layout import canvas_position
    from ._napari.widget import AllenSyncWidget
    from .remote import RemoteSource
    from .server import serve_in_process

    viewer = widget = None
    with serve_in_process(("--demo",)) as (_proc, base):
        with tempfile.TemporaryDirectory() as cache:
            deadline = time.monotonic() + SERVED_TIMEOUT_S

            def wait(condition, what):
                if not process_events_until(condition, deadline - time.monotonic()):
                    raise RuntimeError(f"{what} within {SERVED_TIMEOUT_S} s "
                                       f"({'; '.join(widget.messages) or 'no message'})")

            viewer = napari.Viewer(title="napari-allen-sync on serve --demo", show=True)
            widget = AllenSyncWidget(viewer, source=RemoteSource(base, cache_dir=cache))
            viewer.window.add_dock_widget(widget, name="Allen Brain Atlas sync", area="right")
            idle = lambda: not widget.running_workers() and not widget.runner.workers  # noqa: E731
            wait(lambda: widget.source is not None and idle(), "no source")
            image_id, x, y = demo.demo_click()
            widget.open_seed_section(image_id)
            wait(lambda: widget.seed_image is not None and idle(), "no seed")
            for ds_id in demo.DEMO_TARGET_DATA_SET_IDS:
                widget.add_target(ds_id)
                wait(lambda d=ds_id: d in widget.target_ids and idle(), f"no target {ds_id}")
            widget.set_atlas(demo.DEMO_ATLAS_ID)
            wait(lambda: widget.atlas_id == demo.DEMO_ATLAS_ID and idle(), "no atlas")
            process_events_until(lambda: False, 0.3)
            done = []
            widget.synchronized.connect(done.append)
            send_click(canvas_widget(widget),
                       canvas_position(viewer, widget.layers.seed_layer, (y, x)))
            wait(lambda: bool(done) and idle(), "no synchronization")
            for ds_id in widget.target_ids:
                box = widget.targets_view.overlay_box(ds_id)
                if box is not None and box.isEnabled():
                    box.click()
            wanted = widget.session.overlays()
            wait(lambda: widget.overlays.drawn() == wanted and idle(), "no overlays")
            # a search by gene, as typed in the dock: its answer listed above the targets
            found = []
            widget.experiments_found.connect(found.append)
            widget.search_view.text.setText("gad1")
            widget.search_view.find_button.click()
            wait(lambda: bool(found) and idle(), "no search answer")
            widget.reveal(widget.targets_view.annotated, margin=12)
            process_events_until(lambda: False, 1.0)  # napari fetches and draws the tiles
            viewer.screenshot(str(path), canvas_only=False)
            print(f"wrote {path}: {len(wanted)} overlays, atlas "
                  f"{widget.layers.shown.get(f'atlas:{demo.DEMO_ATLAS_ID}')}", file=sys.stderr)
            widget.close()
            viewer.close()
            QThreadPool.globalInstance().waitForDone(30_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
