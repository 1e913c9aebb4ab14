"""DemoSource, the image command and the napari sample data."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from napari_allen_sync.cli import main
from napari_allen_sync.demo import DEMO_DATA_SET_IDS, DemoSource, demo_click
from napari_allen_sync.errors import UnknownIdError


def test_source_basics():
    source = DemoSource()
    assert source.status() == "offline (demo)"
    assert source.data_set_ids() == list(DEMO_DATA_SET_IDS)
    assert source.atlas_ids() == [1, 2]
    assert source.ensure_data_set(DEMO_DATA_SET_IDS[0]).id == DEMO_DATA_SET_IDS[0]
    source.ensure_atlas(1)
    source.ensure_atlas(2)
    with pytest.raises(UnknownIdError):
        source.ensure_data_set(123)
    with pytest.raises(UnknownIdError):
        source.ensure_atlas(3)


def test_structure_at_in_spaces_9_and_10():
    source = DemoSource()
    got9 = source.structure_at(9, [6825, 6600], [3825, 100], [6475, 5700])
    assert got9[0].acronym == "TH" and got9[1] is None
    # Space 10 is space 9 mirrored at 11350 µm.
    got10 = source.structure_at(10, [6825], [3825], [11350 - 6475])
    assert got10[0].acronym == "TH"


@pytest.mark.parametrize("space", [9, 10])
def test_structure_ids_at_agrees_with_structure_at(space):
    """The array form (for millions of points) answers as the record form does, inside
    and outside the brain, in both reference spaces."""
    src = DemoSource()
    rng = np.random.default_rng(space)
    x = rng.uniform(-500, 13700, 3000)
    y = rng.uniform(-500, 8500, 3000)
    z = rng.uniform(-500, 11900, 3000)
    ids = src.structure_ids_at(space, x, y, z)
    want = [0 if s is None else s.id for s in src.structure_at(space, x, y, z)]
    assert ids.dtype == np.int64
    assert ids.tolist() == want
    assert (ids == 0).any() and (ids != 0).any()  # both cases were exercised


def test_demo_click_is_in_the_hippocampus():
    source = DemoSource()
    image_id, x, y = demo_click()
    ref = source.synchronizer.image_to_reference_batch(image_id, [x], [y])
    assert [s.acronym for s in source.structure_at(9, ref.x, ref.y, ref.z)] == ["HPF"]


def test_image_command_writes_png(tmp_path, capsys):
    out = tmp_path / "plate.png"
    args = ["image", "--demo", "--atlas-plate", "70", "--downsample", "5", "-o", str(out)]
    assert main(args) == 0
    with Image.open(out) as im:
        assert im.size[0] > 250 and im.mode == "RGB"
    out2 = tmp_path / "section.png"
    image_id = demo_click()[0]
    assert main(["image", "--section-image-id", str(image_id), "--downsample", "6",
                 "-o", str(out2)]) == 0
    assert out2.exists()
    assert main(["image", "--atlas-plate", "999", "-o", str(out)]) == 2
    assert "atlas plate" in capsys.readouterr().err


def test_sample_data_is_lazy_and_multiscale():
    from napari_allen_sync._napari.sample_data import demo_section

    [(levels, meta, kind)] = demo_section()
    assert kind == "image" and meta["multiscale"] is True
    assert meta["metadata"]["section_image_id"] == demo_click()[0]
    assert levels[0].shape[2] == 3 and levels[0].shape[0] > levels[-1].shape[0]
    assert np.asarray(levels[-1]).dtype == np.uint8
