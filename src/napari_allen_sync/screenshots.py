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
  synchronized by the dock's "Sync layer" button to every target and the atlas.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

STRIATUM = 477


def _cli(*args: str, env=None) -> None:
    cmd = [sys.executable, "-m", "napari_allen_sync.cli", *args]
    print("+ napari-allen-sync", " ".join(args), file=sys.stderr)
    subprocess.run(cmd, check=True, timeout=600, env=env)


def main(argv=None) -> int:
    """Write the screenshots into the folder given (default ``screenshots``)."""
    argv = sys.argv[1:] if argv is None else argv
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
