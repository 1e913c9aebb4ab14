"""The history of synchronized clicks, exported as CSV (one row per marker) or JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ..atomic import write_text
from ..tables import write_rows

__all__ = ["CSV_COLUMNS", "ClickHistory"]

CSV_COLUMNS = (
    "click",
    "time_utc",
    "seed_section_image_id",
    "seed_x",
    "seed_y",
    "reference_space_id",
    "reference_x",
    "reference_y",
    "reference_z",
    "pir_p",
    "pir_i",
    "pir_r",
    "ccf_voxel_p",
    "ccf_voxel_i",
    "ccf_voxel_r",
    "target",
    "section_data_set_id",
    "section_image_id",
    "section_number",
    "x",
    "y",
    "distance",
    "clamped",
    "structure_id",
    "structure",
    "structure_name",
)


class ClickHistory:
    """Every synchronized click of a session, oldest first."""

    def __init__(self):
        self.clicks: list[dict] = []

    def __len__(self) -> int:
        return len(self.clicks)

    def add(self, outcome) -> dict:
        """Record one :class:`~napari_allen_sync.session.workflow.SyncOutcome`."""
        req = outcome.request
        entry = {
            "click": len(self.clicks) + 1,
            "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed_section_image_id": int(req.section_image_id),
            "seed_x": float(req.x),
            "seed_y": float(req.y),
            "reference_space_id": int(outcome.reference_space_id),
            "reference": [float(v) for v in outcome.reference],
            "pir": [float(v) for v in outcome.pir],
            "ccf_voxel": [int(v) for v in outcome.ccf_voxel],
            "structure": None if outcome.structure is None else outcome.structure.acronym,
            "targets": [h.row() for h in outcome.hits],
            "problems": list(outcome.problems),
        }
        for t in entry["targets"]:
            t["clamped"] = bool(t["clamped"])
        self.clicks.append(entry)
        return entry

    def rows(self) -> list[dict]:
        """One flat row per marker (the seed's included), in :data:`CSV_COLUMNS`."""
        out = []
        for c in self.clicks:
            base = {
                "click": c["click"],
                "time_utc": c["time_utc"],
                "seed_section_image_id": c["seed_section_image_id"],
                "seed_x": c["seed_x"],
                "seed_y": c["seed_y"],
                "reference_space_id": c["reference_space_id"],
                "reference_x": c["reference"][0],
                "reference_y": c["reference"][1],
                "reference_z": c["reference"][2],
                "pir_p": c["pir"][0],
                "pir_i": c["pir"][1],
                "pir_r": c["pir"][2],
                "ccf_voxel_p": c["ccf_voxel"][0],
                "ccf_voxel_i": c["ccf_voxel"][1],
                "ccf_voxel_r": c["ccf_voxel"][2],
            }
            for t in c["targets"]:
                out.append({**base, **{k: t[k] for k in CSV_COLUMNS if k in t}})
        return out

    def export(self, path) -> Path:
        """Write the history to ``path``: JSON when it ends in ``.json``, else CSV.

        The write is all-or-nothing (:func:`napari_allen_sync.atomic.atomic_write`);
        a failure raises :class:`~napari_allen_sync.errors.WriteError`.
        """
        path = Path(path)
        if path.suffix.lower() == ".json":
            write_text(path, json.dumps({"clicks": self.clicks}, indent=1))
        else:
            write_rows(path, self.rows(), CSV_COLUMNS)
        return path
