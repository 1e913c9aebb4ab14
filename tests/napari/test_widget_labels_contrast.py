"""Labels readable over the expression and projection overlays, measured on napari's own
screenshots of a real viewer after real clicks (the overlay check boxes, the seed).

napari's text has no outline, so each label's ink must contrast with the image under
it. A label's drawn glyphs are the pixels that turn blue when it is drawn in pure blue;
its background is the canvas with every label's text hidden; the glyph pixels farthest
from their background must be the label's ink (napari drew it); the score is the WCAG 2
contrast ratio of that ink with the background under each glyph pixel (the glyphs'
blended edges would measure the font's anti-aliasing, not the choice of ink).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_widget_labels import resize

from dock_scene import WAIT, click_box, click_seed, demo_scene
from widget_fixtures import wait_idle

pytestmark = pytest.mark.gui

demo = pytest.importorskip("napari_allen_sync.demo")

from napari_allen_sync._napari.markers import (  # noqa: E402
    INKS,
    contrast_ratio,
    relative_luminance,
    sample_ink,
)

#: WCAG 2's least contrast for large text and for user-interface parts.
MIN_RATIO = 3.0
#: A desktop window (napari's default one is a few panels of 150 px: see the README).
WINDOW = (1600, 1000)
#: The share of a label's glyph pixels that must reach it.
MIN_SHARE = 0.85


def canvas(viewer) -> np.ndarray:
    """napari's screenshot of its canvas, RGB as int."""
    return np.asarray(viewer.screenshot(canvas_only=True, flash=False))[..., :3].astype(int)


def glyph_contrast(viewer, markers, marker) -> np.ndarray:
    """The WCAG contrast ratio of ``marker``'s ink with the canvas under each pixel of
    its drawn glyphs (napari's screenshot without any label's text there)."""
    for m in markers:
        m.text.visible = False
    background = canvas(viewer)
    for m in markers:
        m.text.visible = True
    ink = marker.text.color
    marker.text.color = "#0000ff"  # the glyphs: where napari draws the label blue
    probe = canvas(viewer)
    marker.text.color = ink
    drawn = canvas(viewer)
    glyphs = ((probe[..., 2] - probe[..., :2].max(-1) > 100)
              & (np.abs(probe - background).sum(-1) > 100))
    assert glyphs.sum() > 30, "no glyphs of the label found on the canvas"
    # napari drew the label in its ink: the glyph pixels farthest from their
    # background are the ink itself (the others are blended at the glyphs' edges)
    colour = np.asarray(marker.text.color.constant)[:3] * 255.0
    apart = np.abs(drawn[glyphs] - background[glyphs]).sum(-1)
    ink_px = drawn[glyphs][apart >= np.percentile(apart, 90)]
    assert np.abs(ink_px - colour).sum(-1).min() < 40, (colour, ink_px[:5])
    return contrast_ratio(relative_luminance(np.round(colour)),
                          relative_luminance(background[glyphs]))


def test_labels_contrast_with_the_overlays_under_them(qtbot, make_napari_viewer):
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    resize(qtbot, viewer, widget, WINDOW)
    for ds_id in widget.target_ids:  # every target's overlay on, by its check box
        click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    _image_id, x, y = demo.demo_click()
    click_seed(qtbot, viewer, widget, (y, x))
    qtbot.waitUntil(lambda: widget.overlays.drawn() == widget.session.overlays()
                    and len(widget.overlays.drawn()) == len(widget.target_ids), timeout=WAIT)
    wait_idle(qtbot, widget)
    kinds = set(widget.session.overlays().values())
    assert kinds == {"expression", "projection"}  # the demo has both
    markers = list(widget.layers.markers.values())
    shares = {}
    for marker in markers:
        ratios = glyph_contrast(viewer, markers, marker)
        shares[marker.name] = round(float(np.mean(ratios >= MIN_RATIO)), 2)
    unreadable = {name: share for name, share in shares.items() if share < MIN_SHARE}
    assert not unreadable, f"labels with too little contrast (share of glyphs ≥ 3:1): {shares}"


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[st.integers(0, 255)] * 3))
def test_the_ink_contrasts_with_a_plain_patch(background):
    """Over any one colour the ink reaches WCAG's 4.5 : 1 for body text, nearly (4.3 : 1
    at the worst grey, for the near-black ink)."""
    patch = np.full((20, 40, 3), background, np.uint8)
    ink = dict(INKS)[sample_ink(patch, 10, 20, False)]
    assert contrast_ratio(relative_luminance(np.array(ink)),
                          relative_luminance(np.array(background))) >= 4.3
