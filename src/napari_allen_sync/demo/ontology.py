"""The demo atlas's ontology: Allen's own structures, ids, acronyms, names and colours.

The phantom brain (:mod:`.phantom`) is painted with the twelve major divisions of the
Allen Mouse Brain Atlas plus ``fiber tracts`` and ``ventricular systems`` (docs/arithmetic.md).
They hang under the grouping structures of Allen's real structure graph 1 (Cerebrum,
Cerebral cortex, Brain stem, ...), so that ``Catalog.ancestors`` gives the same chain
as it does on Allen data, e.g. Isocortex → Cortical plate → Cerebral cortex →
Cerebrum → Basic cell groups and regions → root.

Each painted structure also has a small integer *code* (its position in
:data:`PAINTED`), the value stored in the phantom's label volume.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..records import Structure

__all__ = ["PAINTED", "STRUCTURE_TABLE", "code_to_id", "demo_structures", "id_to_code"]

#: (id, acronym, name, parent id, colour) of every structure of the demo ontology, in
#: Allen's order (depth first). Ids, acronyms, names and colours are Allen's.
STRUCTURE_TABLE: tuple[tuple[int, str, str, int | None, str], ...] = (
    (997, "root", "root", None, "FFFFFF"),
    (8, "grey", "Basic cell groups and regions", 997, "BFDAE3"),
    (567, "CH", "Cerebrum", 8, "B0F0FF"),
    (688, "CTX", "Cerebral cortex", 567, "B0FFB8"),
    (695, "CTXpl", "Cortical plate", 688, "70FF70"),
    (315, "Isocortex", "Isocortex", 695, "70FF71"),
    (698, "OLF", "Olfactory areas", 695, "9AD2BD"),
    (1089, "HPF", "Hippocampal formation", 695, "7ED04B"),
    (703, "CTXsp", "Cortical subplate", 688, "8ADA87"),
    (623, "CNU", "Cerebral nuclei", 567, "98D6F9"),
    (477, "STR", "Striatum", 623, "98D6F9"),
    (803, "PAL", "Pallidum", 623, "8599CC"),
    (343, "BS", "Brain stem", 8, "FF7080"),
    (1129, "IB", "Interbrain", 343, "FF7080"),
    (549, "TH", "Thalamus", 1129, "FF7080"),
    (1097, "HY", "Hypothalamus", 1129, "E64438"),
    (313, "MB", "Midbrain", 343, "FF64FF"),
    (1065, "HB", "Hindbrain", 343, "FF9B88"),
    (771, "P", "Pons", 1065, "FFC395"),
    (354, "MY", "Medulla", 1065, "FF9BCD"),
    (512, "CB", "Cerebellum", 8, "F0F080"),
    (1009, "fiber tracts", "fiber tracts", 997, "CCCCCC"),
    (73, "VS", "ventricular systems", 997, "AAAAAA"),
)

#: Structures painted in the phantom; a structure's code is its index + 1 (0 = outside).
PAINTED: tuple[int, ...] = (315, 698, 1089, 703, 477, 803, 549, 1097, 313, 771, 354, 512, 1009, 73)


def code_to_id() -> np.ndarray:
    """Lookup table: label code → Allen structure id (code 0 → 0, outside the brain)."""
    return np.array((0, *PAINTED), dtype=np.int64)


def id_to_code(structure_id: int) -> int:
    """The label code of a painted structure (raises KeyError for others)."""
    try:
        return PAINTED.index(structure_id) + 1
    except ValueError:
        raise KeyError(structure_id) from None


@cache
def demo_structures() -> tuple[Structure, ...]:
    """The demo ontology as :class:`~napari_allen_sync.records.Structure` records.

    Examples
    --------
    >>> s = {s.id: s for s in demo_structures()}
    >>> s[315].structure_id_path
    (997, 8, 567, 688, 695, 315)
    >>> s[1009].parent_structure_id
    997
    """
    parents = {sid: parent for sid, _, _, parent, _ in STRUCTURE_TABLE}
    out = []
    for order, (sid, acronym, name, parent, colour) in enumerate(STRUCTURE_TABLE):
        chain = [sid]
        while parents[chain[-1]] is not None:
            chain.append(parents[chain[-1]])
        out.append(
            Structure(
                id=sid,
                acronym=acronym,
                name=name,
                parent_structure_id=parent,
                structure_id_path=tuple(reversed(chain)),
                color_hex_triplet=colour,
                extra={"graph_id": 1, "graph_order": order, "depth": len(chain) - 1},
            )
        )
    return tuple(out)


def descendants_painted(structure_id: int) -> tuple[int, ...]:
    """The painted structures at or below a structure (itself if it is painted)."""
    by_id = {s.id: s for s in demo_structures()}
    return tuple(p for p in PAINTED if structure_id in by_id[p].structure_id_path)
