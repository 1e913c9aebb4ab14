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

from napari_allen_sync._napari.layout import tier_shift  # noqa: E402
from napari_allen_sync._napari.markers import (  # noqa: E402
    FAR_OPACITY,
    INKS,
    LABEL_SIZES,
    contrast_ratio,
    ink_score,
    relative_luminance,
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
    # background are the ink itself (the others are blended at the glyphs' edges); the
    # strokes of the smallest text (a default window's panels) are thinner than a
    # pixel and never reach it: there the glyphs moved from their background to the ink
    colour = np.asarray(marker.text.color.constant)[:3] * 255.0
    apart = np.abs(drawn[glyphs] - background[glyphs]).sum(-1)
    ink_px = drawn[glyphs][apart >= np.percentile(apart, 90)]
    if float(marker.text.size) >= LABEL_SIZES[0][1]:
        assert np.abs(ink_px - colour).sum(-1).min() < 40, (colour, ink_px[:5])
    else:
        towards = (np.abs(ink_px - colour).sum(-1)
                   < np.abs(background[glyphs][apart >= np.percentile(apart, 90)]
                            - colour).sum(-1))
        assert towards.mean() > 0.9, (colour, ink_px[:5])
    return contrast_ratio(relative_luminance(np.round(colour)),
                          relative_luminance(background[glyphs]))


#: A point of the demo's seed section (fractions of its height and width) where the
#: sagittal Gad1 target has no section near (its panel greyed: drawn at
#: :data:`~napari_allen_sync._napari.markers.FAR_OPACITY` over the black canvas).
FAR_POINT = (0.6, 0.4)


@pytest.mark.parametrize(("window", "where"), [("large", "demo"), ("default", "demo"),
                                               ("default", "far")])
def test_labels_contrast_with_the_overlays_under_them(qtbot, make_napari_viewer, window,
                                                      where):
    """Every label reads over the overlays. At the default window, where each panel is
    about 180 px wide, a label over a patch both dark and bright goes to the other side
    of its ring, or sideways, where the image reads better: the projection overlay's
    label (over its bright overlay and the dark field below the ring) reads above it,
    in white; the sagittal Gad1 label (over its dark overlay and the pale section below
    the ring) above it, over the section. A far target's greyed section is judged as
    drawn, darkened over the canvas (its label was near-black on it: 0.50)."""
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    if window == "large":
        resize(qtbot, viewer, widget, WINDOW)
    for ds_id in widget.target_ids:  # every target's overlay on, by its check box
        click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    _image_id, x, y = demo.demo_click()
    if where == "far":
        y, x = FAR_POINT[0] * widget.seed_image.height, FAR_POINT[1] * widget.seed_image.width
    click_seed(qtbot, viewer, widget, (y, x))
    qtbot.waitUntil(lambda: widget.overlays.drawn() == widget.session.overlays()
                    and len(widget.overlays.drawn()) == len(widget.target_ids), timeout=WAIT)
    wait_idle(qtbot, widget)
    kinds = set(widget.session.overlays().values())
    assert kinds == {"expression", "projection"}  # the demo has both
    far = {h.key for h in widget.session.last_outcome.hits if h.far}
    assert (far == {"ds:900100003"}) if where == "far" else not far
    markers = list(widget.layers.markers.values())
    shares = {}
    for key, marker in widget.layers.markers.items():
        ratios = glyph_contrast(viewer, markers, marker)
        shares[key] = round(float(np.mean(ratios >= MIN_RATIO)), 2)
    unreadable = {key: share for key, share in shares.items() if share < MIN_SHARE}
    assert not unreadable, f"labels with too little contrast (share of glyphs ≥ 3:1): {shares}"


#: Seed points (fractions of the seed section's height and width) clicked one after the
#: other, as a user tours a section: upper and lower half, left and right, near and far
#: from the sagittal target's sections.
TOUR = [(0.5, 0.5), (0.3, 0.3), (0.65, 0.45), (0.4, 0.75), (0.75, 0.6), (0.6, 0.4),
        (0.2, 0.55), (0.45, 0.55)]


def test_labels_read_across_a_tour_of_clicks_at_the_default_window(qtbot,
                                                                    make_napari_viewer):
    """Clicked at eight points in turn at napari's default window with every overlay on
    (the camera settles on the sections seen, so the panels are small): no label is
    mostly unreadable (at least 0.6 of its glyphs at 3 : 1; a greyed far section's
    near-black label had 0.35) and at most a tenth of them are under :data:`MIN_SHARE`
    (before labels moved sideways and the opacity was judged: 8 of 40)."""
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    for ds_id in widget.target_ids:
        click_box(qtbot, widget.targets_view.overlay_box(ds_id))
    shares = []
    for fy, fx in TOUR:
        click_seed(qtbot, viewer, widget,
                   (fy * widget.seed_image.height, fx * widget.seed_image.width))
        qtbot.waitUntil(lambda: widget.overlays.drawn() == widget.session.overlays()
                        and len(widget.overlays.drawn()) == len(widget.target_ids),
                        timeout=WAIT)
        wait_idle(qtbot, widget)
        markers = list(widget.layers.markers.values())
        for key, marker in widget.layers.markers.items():
            ratios = glyph_contrast(viewer, markers, marker)
            shares.append(((fy, fx), key, round(float(np.mean(ratios >= MIN_RATIO)), 2)))
    assert len(shares) == 5 * len(TOUR)
    assert min(s[2] for s in shares) >= 0.6, shares
    low = [s for s in shares if s[2] < MIN_SHARE]
    assert len(low) <= len(shares) // 10, low


#: Seed points near the seed section's left and right edges: each panel's ring lies
#: near its section's side, so its centred label's first or last characters lie over
#: the black canvas.
EDGE_POINTS = [(0.5, 0.15), (0.5, 0.85)]


def test_a_label_passing_a_section_edge_reads_whole(qtbot, make_napari_viewer):
    """Clicked near a section's sides at napari's default window, after a tour of
    clicks (:data:`TOUR`: the camera has settled on every section seen, so the panels
    and their labels are small): the ink is judged under the whole text, so a label
    whose ends pass its section's edge, or lie over darker parts the middle of the text
    does not, still reads (every label with :data:`MIN_SHARE` of its glyphs at 3 : 1).
    Judged under the middle half of its widest line, the seed's label was mid grey
    there, 0.67-0.69 of its glyphs at 3 : 1."""
    source = demo.DemoSource()
    viewer = make_napari_viewer(show=True)
    widget = demo_scene(qtbot, viewer, source, click=False)
    height, width = widget.seed_image.height, widget.seed_image.width
    for fy, fx in TOUR:
        click_seed(qtbot, viewer, widget, (fy * height, fx * width))
    for fy, fx in EDGE_POINTS:
        click_seed(qtbot, viewer, widget, (fy * height, fx * width))
        wait_idle(qtbot, widget)
        markers = list(widget.layers.markers.values())
        shares = {key: round(float(np.mean(glyph_contrast(viewer, markers, m) >= MIN_RATIO)),
                             2) for key, m in widget.layers.markers.items()}
        assert len(shares) == 5
        assert min(shares.values()) >= MIN_SHARE, ((fy, fx), shares)


def test_a_label_past_the_image_edge_is_judged_against_the_canvas():
    """The part of a label's patch beyond the image is the canvas's colour: a pale
    section's top edge under a label over a black canvas needs a mid ink (or the other
    side), not the near-black one the section alone would ask for."""
    pale = np.full((40, 40, 3), 240, np.uint8)
    ink, score = ink_score(pale, 3, 20, True, 10, 8)  # 5 of the 8 rows above the image
    assert ink != "#101010" and score < 4.5
    assert ink_score(pale, 3, 20, True, 10, 8, outside=(255, 255, 255))[0] == "#101010"
    inside_ink, inside_score = ink_score(pale, 30, 20, True, 10, 8)  # wholly inside
    assert inside_ink == "#101010" and inside_score > 12
    ink, score = ink_score(pale, -50, 20, True, 10, 8)  # all canvas: white on black
    assert ink == "white" and score == pytest.approx(21.0)


def test_a_greyed_section_is_judged_as_drawn_over_the_canvas():
    """A far target's section is drawn at FAR_OPACITY over the canvas: a pale section
    greyed over a black canvas is mid grey, which the near-black ink does not read on."""
    pale = np.full((40, 40, 3), 240, np.uint8)
    assert ink_score(pale, 30, 20, True, 10, 8)[0] == "#101010"
    ink, score = ink_score(pale, 30, 20, True, 10, 8, opacity=FAR_OPACITY)
    drawn = np.full((40, 40, 3), round(FAR_OPACITY * 240), np.uint8)
    assert ink != "#101010"
    assert (ink, score) == ink_score(drawn, 30, 20, True, 10, 8)  # the colour napari draws
    # over a white canvas the same greyed section is paler: the dark ink again
    assert ink_score(pale, 30, 20, True, 10, 8, outside=(255, 255, 255),
                     opacity=FAR_OPACITY)[0] == "#101010"


@settings(max_examples=200, deadline=None)
@given(st.tuples(*[st.integers(0, 255)] * 3), st.tuples(*[st.integers(0, 255)] * 3),
       st.floats(0.0, 1.0))
def test_the_ink_reads_the_blended_colour(image, canvas_rgb, opacity):
    """An image at any opacity over any canvas colour is scored as the single colour
    napari's translucent blending draws (alpha · image + (1 − alpha) · canvas)."""
    patch = np.full((12, 16, 3), image, np.uint8)
    blended = np.round(opacity * np.array(image) + (1 - opacity) * np.array(canvas_rgb))
    assert (ink_score(patch, 6, 8, False, 4, 3, outside=canvas_rgb, opacity=opacity)
            == ink_score(np.full((12, 16, 3), blended, np.uint8), 6, 8, False, 4, 3))


@settings(max_examples=300, deadline=None)
@given(st.floats(-np.pi, np.pi), st.floats(0.2, 5.0), st.sampled_from([1.0, -1.0]),
       st.floats(0.05, 4.0), st.sampled_from([1.0, 4.0, 16.0, 64.0]),
       st.floats(-200.0, 200.0))
def test_a_sideways_shift_is_judged_where_it_is_drawn(angle, scale, mirror, zoom, tier,
                                                      shift_px):
    """A label shifted sideways on screen is judged that far along the image's own
    pixels, whatever the image's rotation, scale and mirroring (a mirrored section's
    right is its left): taken back to the screen, the tier pixels found are the shift
    within the rounding to whole tier pixels."""
    c, s = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]]) @ np.diag([1.0, mirror])
    dr, dc = tier_shift(linear, zoom, tier, shift_px)
    screen = zoom * linear @ (tier * np.array([dr, dc], dtype=float))
    one = zoom * scale * tier  # screen pixels per tier pixel
    assert np.allclose(screen, [0.0, shift_px], atol=0.71 * one + 1e-9), (screen, one)
    assert tier_shift(np.zeros((2, 2)), zoom, tier, shift_px) == (0, 0)  # degenerate


@settings(max_examples=300, deadline=None)
@given(st.tuples(*[st.integers(0, 255)] * 3))
def test_the_ink_contrasts_with_a_plain_patch(background):
    """Over any one colour the ink reaches WCAG's 4.5 : 1 for body text, nearly (4.3 : 1
    at the worst grey, for the near-black ink)."""
    patch = np.full((20, 40, 3), background, np.uint8)
    ink = dict(INKS)[ink_score(patch, 10, 20, False)[0]]
    assert contrast_ratio(relative_luminance(np.array(ink)),
                          relative_luminance(np.array(background))) >= 4.3
