"""Finding structures of an ontology by acronym or name (Qt-free): the index behind the
dock's structure search.

:class:`StructureIndex` answers in well under a millisecond for Allen's 1327 structures
(``make bench``, module ``search``; the dock's budget is 50 ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .records import Structure

__all__ = ["StructureIndex"]


class StructureIndex:
    """Find structures by acronym or name: case-insensitive substring match, ranked.

    Rank: exact acronym, exact name, acronym prefix, name prefix, a word of the name
    starting with the text, acronym substring, name substring; within a rank the
    shorter matched text first, then ontology order.

    Parameters
    ----------
    structures : iterable of Structure
        In ontology order (as a ``structure_graph_download`` lists them).

    Examples
    --------
    >>> from napari_allen_sync.demo.ontology import demo_structures
    >>> index = StructureIndex(demo_structures())
    >>> [s.acronym for s in index.search("cer")]
    ['CH', 'CB', 'CTX', 'CNU']
    >>> [s.acronym for s in index.search("p")][:3]
    ['P', 'PAL', 'CTXpl']
    """

    def __init__(self, structures: Iterable[Structure]):
        self.structures: tuple[Structure, ...] = tuple(structures)
        self._acronyms = [s.acronym.casefold() for s in self.structures]
        self._names = [s.name.casefold() for s in self.structures]
        self._words = [tuple(re.split(r"[\s,\-/()]+", n)) for n in self._names]

    @classmethod
    def from_catalog(cls, catalog) -> StructureIndex:
        """The index of a catalog's ontology, in structure-id-path order."""
        items = sorted(catalog.structures.values(),
                       key=lambda s: (s.structure_id_path or (s.id,)))
        return cls(items)

    def __len__(self) -> int:
        return len(self.structures)

    def search(self, text: str, limit: int | None = 50) -> list[Structure]:
        """The structures matching ``text``, best first (at most ``limit``)."""
        q = (text or "").strip().casefold()
        if not q:
            return []
        ranked = []
        for k, (a, n) in enumerate(zip(self._acronyms, self._names, strict=True)):
            if q in a or q in n:
                ranked.append((_rank(q, a, n, self._words[k]), k))
        ranked.sort()
        if limit is not None:
            ranked = ranked[:limit]
        return [self.structures[k] for _, k in ranked]

    def matching_ids(self, text: str) -> set[int]:
        """Ids of every structure matching ``text`` (for filtering a tree)."""
        return {s.id for s in self.search(text, limit=None)}


def _rank(q: str, acronym: str, name: str, words) -> tuple[int, int]:
    """The sort key of a structure matching ``q`` (all case-folded): exact acronym,
    exact name, acronym prefix, name prefix, word prefix, acronym substring, name
    substring; shorter first within each."""
    if acronym == q:
        return (0, len(acronym))
    if name == q:
        return (1, len(name))
    if acronym.startswith(q):
        return (2, len(acronym))
    if name.startswith(q):
        return (3, len(name))
    if any(w.startswith(q) for w in words):
        return (4, len(name))
    if q in acronym:
        return (5, len(acronym))
    return (6, len(name))
