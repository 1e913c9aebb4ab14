"""The synchronization session, without napari or Qt.

- :mod:`.model`: :class:`Session`, the observable state of one session (source, seed,
  targets, atlas, last point, live mode, batch, request generation);
- :mod:`.workflow`: a click → its outcome, navigation, placement, opening things;
- :mod:`.points`: batch sync of many points on the seed;
- :mod:`.tiles`: the tile cache and image pyramids;
- :mod:`.history`: the click history and its export.

The dock (:mod:`napari_allen_sync._napari`) renders a :class:`Session` and runs the
workflow's generators in napari thread workers; scripts and tests drive them directly.
"""

from .history import ClickHistory
from .model import ATLAS_VIEWS, SavedSetup, Session, Target

__all__ = ["ATLAS_VIEWS", "ClickHistory", "SavedSetup", "Session", "Target"]
