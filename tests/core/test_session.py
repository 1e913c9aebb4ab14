"""The session model, without a display: napari and Qt are never imported here."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from napari_allen_sync.session import SavedSetup, Session, Target


def image(image_id, data_set_id, number=10):
    return SimpleNamespace(id=image_id, data_set_id=data_set_id, section_number=number)


def data_set(ds_id):
    return SimpleNamespace(id=ds_id, plane="coronal", extra={"genes": [{"acronym": "Gad1"}]})


@pytest.fixture
def session():
    s = Session(source=object(), source_key="demo")
    s.set_seed(image(11, 1), data_set(1), [(11, 10), (12, 20)])
    return s


def test_the_session_module_imports_neither_napari_nor_qt():
    code = ("import sys, napari_allen_sync.session as s\n"
            "from napari_allen_sync.session import workflow, points, tiles, model, history\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'vispy', 'magicgui',"
            " 'superqt'))\nprint(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == ""


def test_every_field_announces_its_change(session):
    seen = []
    session.events.targets.connect(lambda new: seen.append(("targets", new)))
    session.events.atlas_id.connect(lambda new: seen.append(("atlas", new)))
    session.events.live.connect(lambda new: seen.append(("live", new)))
    assert session.add_target(2, "two")
    session.set_atlas(1, "P56 coronal")
    session.live = True
    session.live = True  # unchanged: no event
    assert [k for k, _ in seen] == ["targets", "atlas", "live"]
    assert seen[0][1] == (Target(2, "two"),)
    assert session.keys() == ["seed", "ds:2", "atlas:1"]


def test_the_seeds_own_data_set_and_a_duplicate_are_refused(session):
    assert "seed's own data set" in session.refuse_target(1)
    assert not session.add_target(1)
    assert session.add_target(2)
    assert "already a target" in session.refuse_target(2)
    assert not session.add_target(2)
    assert session.target_ids == (2,)
    assert session.remove_target(2) and not session.remove_target(2)
    assert session.target_ids == ()


def test_a_new_seed_makes_requests_stale_and_forgets_the_point(session):
    g = session.next_generation()
    session.last_point = (1.0, 2.0)
    assert session.is_current(g)
    session.set_seed(image(12, 1, 20), data_set(1))
    assert not session.is_current(g) and session.last_point is None
    g2 = session.generation
    session.set_seed(image(11, 1), data_set(1), stale=False)  # a navigation's own seed
    assert session.is_current(g2)
    assert session.seed_name() == "seed 1 · Gad1 · coronal #10"


def test_switching_source_saves_and_restores_the_setup(session):
    session.add_target(2, "two")
    session.set_atlas(1, "P56 coronal")
    session.last_point = (5.0, 6.0)
    g = session.generation
    other = object()
    assert session.switch_source("allen", other) is None  # nothing saved for it yet
    assert not session.is_current(g)
    assert session.source is other and session.seed_image is None
    assert session.targets == () and session.atlas_id is None and session.last_point is None
    back = session.switch_source("demo", object())
    assert back == SavedSetup(11, (Target(2, "two"),), 1, "P56 coronal", (5.0, 6.0))
    # the Allen API had no seed: nothing is saved for it
    assert "allen" not in session.saved


def test_overlay_needs_an_overlay_kind_and_follows_the_target(session):
    seen = []
    session.events.targets.connect(lambda new, old: seen.append(len(new)))
    session.add_target(2)  # no overlay known: the toggle is refused
    assert not session.set_overlay(2, True)
    assert not session.targets[0].overlay and session.overlays() == {}
    session.add_target(3, "three", "expression")
    session.add_target(4, "four", "made up")  # not an overlay kind: none
    assert session.targets[2].overlay_kind is None
    assert session.set_overlay(3, True)
    assert not session.set_overlay(3, True)  # already on: no event
    assert session.overlays() == {"ds:3": "expression"}
    assert not session.set_overlay(99, True)  # not a target
    assert seen == [1, 2, 3, 3]  # three adds, one overlay change
    session.remove_target(3)
    assert session.overlays() == {}
    assert session.set_overlay(2, False) is False


def test_atlas_view_is_annotation_or_nissl(session):
    from napari_allen_sync.errors import InvalidParameterError
    from napari_allen_sync.session.model import ATLAS_VIEWS

    seen = []
    session.events.atlas_view.connect(seen.append)
    assert session.atlas_view == ATLAS_VIEWS[0] == "annotation"
    assert session.set_atlas_view("nissl") and session.atlas_view == "nissl"
    assert not session.set_atlas_view("nissl")
    with pytest.raises(InvalidParameterError, match=r"atlas_view.*'coloured'"):
        session.set_atlas_view("coloured")
    assert seen == ["nissl"] and session.atlas_view == "nissl"


@given(st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(1, 6)),
                max_size=30))
def test_targets_stay_unique_and_never_the_seed(ops):
    s = Session()
    s.set_seed(image(11, 1), data_set(1))
    model = []
    for op, ds_id in ops:
        if op == "add":
            added = s.add_target(ds_id)
            assert added == (ds_id != 1 and ds_id not in model)
            if added:
                model.append(ds_id)
        else:
            assert s.remove_target(ds_id) == (ds_id in model)
            if ds_id in model:
                model.remove(ds_id)
    assert list(s.target_ids) == model
    assert 1 not in s.target_ids


@given(st.permutations([2, 3, 4, 5]))
def test_targets_checked_in_parallel_keep_the_order_they_were_asked_in(arrival):
    """Targets are checked in workers that end in any order; each goes before the
    targets asked after it, so the panels follow the order the user added them in."""
    s = Session(source=object(), source_key="demo")
    s.set_seed(image(11, 1), data_set(1), [(11, 10)])
    asked = [2, 3, 4, 5]
    for ds_id in arrival:
        assert s.add_target(ds_id, asked=asked)
    assert s.target_ids == tuple(asked)
    assert s.add_target(9)  # not asked through the list: at the end
    assert s.target_ids == (*asked, 9)
