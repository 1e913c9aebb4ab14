"""``napari-allen-sync demo``: napari with the sync widget on the embedded demo atlas.

With ``--screenshot PATH`` the window is shown, a real left click is delivered on the
seed section at the demo point, the synchronization is awaited, a screenshot of the
whole window is saved and a JSON summary is printed on stdout. ``--scene live`` then
turns live sync on and moves the cursor over the seed with real mouse events before the
screenshot; ``--scene batch`` adds a Points layer of demo cell detections on the seed
and synchronizes it with the dock's "Sync layer" button.
"""

from __future__ import annotations

import json
import sys
import time

__all__ = ["add_parser", "run"]

WINDOW_SIZE = (1600, 1000)


def add_parser(subparsers):
    """The ``demo`` sub-command's parser."""
    p = subparsers.add_parser(
        "demo",
        help="napari with the sync widget on the embedded demo atlas (offline)",
        description="Open napari with the Allen Brain Atlas sync widget on the embedded demo "
        "atlas: a seed section, three target experiments and the P56 atlas. Click on the seed "
        "section to see the same point everywhere.",
    )
    p.add_argument("--screenshot", metavar="PATH",
                   help="click the demo point, save a screenshot of the window, print a JSON "
                   "summary and exit")
    p.add_argument("--scene", choices=("click", "live", "batch"), default="click",
                   help="with --screenshot: after the click, move the cursor with live sync "
                   "on (live) or batch-sync demo cell detections (batch); default click")
    p.add_argument("--window", choices=("large", "default"), default="large",
                   help="with --screenshot: a 1600 × 1000 window (large, default) or napari's "
                   "own default window size (default)")
    p.add_argument("--timeout", type=float, default=120.0, metavar="S",
                   help="give up after S seconds in --screenshot mode (default 120)")
    return p


def _close(viewer, widget) -> None:
    """Quit the widget's workers, close the window, let worker threads end."""
    from qtpy.QtCore import QThreadPool

    widget.close()
    viewer.close()
    QThreadPool.globalInstance().waitForDone(30_000)


def _fail(viewer, widget, message: str) -> int:
    print(f"napari-allen-sync demo: error: {message}", file=sys.stderr)
    _close(viewer, widget)
    return 1


def run(args) -> int:
    """Run the demo; returns the exit status."""
    import napari

    from .. import demo
    from .._napari.canvas import canvas_widget, process_events_until, send_click
    from .._napari.layout import canvas_position
    from .._napari.widget import AllenSyncWidget

    t_start = time.perf_counter()
    viewer = napari.Viewer(title="napari-allen-sync demo", show=True)
    widget = AllenSyncWidget(viewer)  # demo source, seed, targets and atlas
    viewer.window.add_dock_widget(widget, name="Allen Brain Atlas sync", area="right")
    if not args.screenshot:
        napari.run()
        return 0

    if getattr(args, "window", "large") == "large":
        widget.window().resize(*WINDOW_SIZE)
    deadline = time.monotonic() + args.timeout
    targets = list(demo.DEMO_TARGET_DATA_SET_IDS)

    def scene_ready():
        return (
            widget.seed_image is not None
            and sorted(widget.target_ids) == sorted(targets)
            and widget.atlas_id == demo.DEMO_ATLAS_ID
            and not widget.running_workers()
        )

    if not process_events_until(scene_ready, deadline - time.monotonic()):
        return _fail(viewer, widget, f"the demo scene did not open within {args.timeout} s "
                     f"({'; '.join(widget.messages) or 'no message'})")
    process_events_until(lambda: False, 0.3)  # let the window settle and draw
    t_ready = time.perf_counter()

    image_id, x, y = demo.demo_click()
    if widget.seed_image.id != image_id:
        return _fail(viewer, widget,
                     f"the seed is {widget.seed_image.id}, not the demo's {image_id}")
    done = []
    widget.synchronized.connect(lambda outcome: done.append(time.perf_counter()))
    canvas = canvas_widget(widget)
    pos = canvas_position(viewer, widget.layers.seed_layer, (y, x))
    t_click = time.perf_counter()
    send_click(canvas, pos)
    if not process_events_until(lambda: bool(done), deadline - time.monotonic()):
        return _fail(viewer, widget, f"no synchronization within {args.timeout} s after the click "
                     f"({'; '.join(widget.messages) or 'no message'})")
    t_synced = done[0]
    scene = {}
    scene_name = getattr(args, "scene", "click")
    if scene_name == "live":
        scene = _live_scene(viewer, widget, canvas, (x, y), deadline)
    elif scene_name == "batch":
        scene = _batch_scene(viewer, widget, (x, y), deadline)
    if "error" in scene:
        return _fail(viewer, widget, scene["error"])
    process_events_until(lambda: False, 0.5)  # let napari fetch and draw the tiles
    t_drawn = time.perf_counter()
    viewer.screenshot(args.screenshot, canvas_only=False)
    t_shot = time.perf_counter()

    outcome = widget.last_outcome
    summary = {
        "screenshot": str(args.screenshot),
        "window": list(WINDOW_SIZE),
        "click": {"section_image_id": image_id, "x": x, "y": y,
                  "delivered_at_canvas_px": [round(pos[0], 1), round(pos[1], 1)],
                  "seed_pixel": [outcome.request.x, outcome.request.y]},
        "reference": {
            "reference_space_id": outcome.reference_space_id,
            "xyz_um": list(outcome.reference),
            "pir_um": list(outcome.pir),
            "ccf_voxel_25um": list(outcome.ccf_voxel),
            "structure": None if outcome.structure is None else outcome.structure.acronym,
            "structure_name": None if outcome.structure is None else outcome.structure.name,
        },
        "markers": {h.key: {k: (v.item() if hasattr(v, "item") else v)
                            for k, v in h.row().items()} for h in outcome.hits},
        "problems": outcome.problems,
        "scene": {"name": scene_name, **scene},
        "layers": [{"name": layer.name, "type": type(layer).__name__} for layer in viewer.layers],
        "grid": {"enabled": viewer.canvas.grid.enabled, "stride": viewer.canvas.grid.stride,
                 "shape": list(viewer.canvas.grid.actual_shape(viewer.layers))},
        "timings_ms": {
            "open_scene": round((t_ready - t_start) * 1e3, 1),
            "click_to_markers": round((t_synced - t_click) * 1e3, 1),
            "worker": {k: round(v, 2) for k, v in outcome.timings_ms.items()},
            "tiles_settle": round((t_drawn - t_synced) * 1e3, 1),
            "screenshot": round((t_shot - t_drawn) * 1e3, 1),
        },
    }
    print(json.dumps(summary, indent=1))
    _close(viewer, widget)
    return 0


def _live_scene(viewer, widget, canvas, click, deadline) -> dict:
    """Live sync on (the dock's toggle); real cursor moves along a path on the seed."""
    import math

    from .._napari.canvas import process_events_until, send_move
    from .._napari.layout import canvas_position

    widget.reveal(widget.readout_view.live)
    widget.readout_view.live.click()  # as the user does
    frames = []
    widget.live_updated.connect(frames.append)
    x0, y0 = click
    width = widget.seed_image.width
    for k in range(60):
        t = k / 59
        x = x0 - 0.10 * width * t
        y = y0 + 0.06 * width * math.sin(2 * math.pi * t)
        send_move(canvas, canvas_position(viewer, widget.layers.seed_layer, (y, x)))
        process_events_until(lambda: False, 1 / 60)
    idle = process_events_until(
        lambda: not widget.running_workers() and not widget.layers.stale_images(),
        max(1.0, deadline - time.monotonic()))
    if not frames or not idle:
        return {"error": f"live sync drew {len(frames)} frames ({'; '.join(widget.messages)})"}
    last = frames[-1]
    return {"live_frames": len(frames), "moves": widget.live.moves,
            "last_point": [last.request.x, last.request.y],
            "sections": {h.key: h.section_number for h in last.hits}}


def _batch_scene(viewer, widget, click, deadline) -> dict:
    """A Points layer of demo cell detections on the seed, synchronized by a click on
    the dock's "Sync layer" button."""
    import numpy as np
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    from .._napari.canvas import process_events_until

    rng = np.random.default_rng(2026)
    x0, y0 = click
    w = widget.seed_image.width
    centres = np.array([[y0, x0], [y0 - 0.08 * w, x0 + 0.10 * w], [y0 + 0.05 * w, x0 - 0.12 * w]])
    pts = np.concatenate([c + rng.normal(0, 0.025 * w, (150, 2)) for c in centres])
    ref = widget.source.synchronizer.image_to_reference_batch(
        widget.seed_image.id, pts[:, 1], pts[:, 0])
    inside = np.array([s is not None for s in widget.source.structure_at(
        ref.reference_space_id, ref.x, ref.y, ref.z)])
    viewer.add_points(pts[inside], name="cell detections", size=1,
                      canvas_size_limits=(6, 6), face_color="#00e5ff", border_width=0)
    done = []
    widget.batch_synchronized.connect(done.append)
    widget.reveal(widget.batch_view)
    widget.batch_view.layer.setCurrentText("cell detections")
    QTest.mouseClick(widget.batch_view.sync_button, Qt.MouseButton.LeftButton)
    if not process_events_until(lambda: bool(done), max(1.0, deadline - time.monotonic())):
        return {"error": f"the batch did not finish ({'; '.join(widget.messages)})"}
    batch = done[0]
    return {"points": len(batch), "targets": [t.key for t in batch.targets],
            "shown_per_target": {k: int(np.count_nonzero(lay.shown))
                                 for k, lay in widget.layers.batch.items()},
            "worker_ms": round(batch.timings_ms["total"], 2)}
