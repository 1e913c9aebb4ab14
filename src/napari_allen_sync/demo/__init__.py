"""The embedded demo atlas: a synthetic mouse brain that behaves like Allen data.

Everything here works offline and deterministically (the same bytes every run):

- a phantom brain in reference space 9 with Allen's twelve major divisions, fibre tracts
  and ventricles (:mod:`.phantom`, :mod:`.ontology`);
- four experiments (coronal *Penk* and *Calb1* in situ, sagittal *Gad1* in situ of the
  left hemisphere, coronal connectivity) with Allen-like alignments
  (:mod:`.experiments`), and a coronal reference atlas of 132 annotated plates
  (:mod:`.atlas`);
- images of any region at any tier, rendered on demand through each image's own
  alignment (:mod:`.render`), so the anatomy truly corresponds across experiments;
- :class:`DemoSource`, the :class:`~napari_allen_sync.source.AtlasSource` of all this.

Examples
--------
>>> from napari_allen_sync.demo import DemoSource, demo_click
>>> source = DemoSource()
>>> image_id, x, y = demo_click()
>>> [s.acronym for s in source.structure_at(
...     9, *source.synchronizer.image_to_reference_batch(image_id, [x], [y]).as_array().T)]
['HPF']
"""

from .atlas import DEMO_ATLAS_DATA_SET_ID, DEMO_ATLAS_ID, PLATE_COUNT
from .catalog import (
    DEMO_CLICK_STRUCTURE_ID,
    DEMO_DATA_SET_IDS,
    DEMO_SEED_DATA_SET_ID,
    DEMO_TARGET_DATA_SET_IDS,
    build_demo_catalog,
    demo_catalog,
    demo_click,
    demo_seed_image_id,
)
from .phantom import structure_id_at
from .render import DemoTiles
from .source import DemoSource

__all__ = [
    "DEMO_ATLAS_DATA_SET_ID",
    "DEMO_ATLAS_ID",
    "DEMO_CLICK_STRUCTURE_ID",
    "DEMO_DATA_SET_IDS",
    "DEMO_SEED_DATA_SET_ID",
    "DEMO_TARGET_DATA_SET_IDS",
    "PLATE_COUNT",
    "DemoSource",
    "DemoTiles",
    "build_demo_catalog",
    "demo_catalog",
    "demo_click",
    "demo_seed_image_id",
    "structure_id_at",
]
