"""The readouts of a synchronization, as the dock's :class:`.views.ReadoutView` shows
them: the reference point, the structure, one table row per target and a history line.

Coordinates are always labelled and in one order: seed and target pixels as
``x, y`` (Allen's order: column, row), reference points as named axes.
"""

from __future__ import annotations

__all__ = ["show_readouts"]


def far_note(hit) -> str:
    """Tooltip of a target whose nearest section is farther than its spacing."""
    d = abs(hit.distance)
    return (f"no section near this point (nearest {d / 1000:.1f} mm: {d:.0f} µm, more than "
            f"the section spacing of {hit.spacing:.0f} µm)")


def show_readouts(view, outcome, names: dict, click_number: int | None = None) -> None:
    """Fill a ReadoutView from a SyncOutcome.

    Parameters
    ----------
    view : ReadoutView
    outcome : SyncOutcome
    names : dict
        Layer name of each target key.
    click_number : int, optional
        With a number, a history line is added (a click of the user's); live frames and
        redraws give none.
    """
    p, i, r = outcome.pir
    v = outcome.ccf_voxel
    x, y, z = outcome.reference
    space = outcome.reference_space_id
    text = (f"CCF (space 9) P {p:.0f}, I {i:.0f}, R {r:.0f} µm · "
            f"25 µm voxel [{v[0]}, {v[1]}, {v[2]}]")
    if space != 9:
        text += f"<br>space {space}: x {x:.0f}, y {y:.0f}, z {z:.0f} µm"
    view.reference.setText(text)
    s = outcome.structure
    missing = getattr(outcome, "structures_missing", None)
    if s is not None:
        view.structure.setText(f"<b>{s.name}</b> ({s.acronym}, id {s.id})")
    else:
        view.structure.setText(f"structure not known: {missing}" if missing
                               else "outside the brain / no annotation here")
    rows = []
    for h in outcome.hits:
        rows.append((h.key, (
            names.get(h.key, h.key), h.section_data_set_id, h.section_number,
            f"{h.x:.1f}", f"{h.y:.1f}", f"{h.distance:.1f}", "yes" if h.clamped else "",
            h.structure.acronym if h.structure is not None else "–",
        )))
    view.set_rows(rows, {h.key: far_note(h) for h in outcome.hits if h.far})
    if click_number is None:
        return
    where = s.acronym if s is not None else ("structure not known" if missing else "outside")
    req = outcome.request
    view.add_history(f"{click_number}: seed x {req.x:.0f}, y {req.y:.0f} px → {where}")
