"""The nearest section of a stack in constant time per point, exactly.

:func:`napari_allen_sync.inferred.nearest_sections` states the rule (the section whose
number is nearest to ``q = vz / thickness``, ties to the lower one, clamping at both
ends) as one binary search per point in the mid-points between sections. For a million
points that search is the largest cost of a synchronization (about 15 ms per data set),
so the engine answers the same question with a table built once per stack:

- section numbers are *integers*, so every mid-point ``(a + b) / 2`` is a multiple of
  one half, held exactly in a float;
- ``c = floor(2 q)`` is exact too, and ``q`` lies in ``[c / 2, (c + 1) / 2)``, where the
  only possible mid-point is ``c / 2`` itself. The answer (the number of mid-points
  below ``q``) is therefore the number of mid-points up to ``c / 2`` (one table entry),
  less one when ``q`` *is* that mid-point and ties go to the lower section.

Every comparison is one the binary search makes on the same floats, so the index is
identical, not merely close (``tests/test_section_lookup.py`` checks this with
hypothesis, ties and the neighbours of every mid-point included). NaN, which the binary
search puts after every mid-point, takes that search.

Imports nothing but NumPy.
"""

from __future__ import annotations

import numpy as np

from .inferred import CLAMP_TOLERANCE_SECTIONS, TIE_BREAK_TOWARDS_LOWER_SECTION, nearest_sections

__all__ = ["MAX_TABLE_ENTRIES", "SectionLookup", "index_of_each"]

#: Above this many half sections between the first and last mid-point (section numbers
#: spread over millions) the table would be large: the binary search is used instead.
MAX_TABLE_ENTRIES = 1 << 22


class SectionLookup:
    """:func:`~napari_allen_sync.inferred.nearest_sections` for one stack of sections.

    Parameters
    ----------
    section_numbers : array-like of int
        Strictly increasing section numbers of the candidate images (at least one).

    Examples
    --------
    >>> lookup = SectionLookup([10, 12, 20])
    >>> index, clamped = lookup(np.array([9.0, 11.0, 11.5, 16.0, 16.5, 25.0]))
    >>> index.tolist(), clamped.tolist()
    ([0, 0, 1, 1, 2, 2], [True, False, False, False, False, True])
    """

    def __init__(self, section_numbers):
        numbers = np.asarray(section_numbers)
        if numbers.ndim != 1 or not len(numbers):
            raise ValueError(
                f"section numbers must be a non-empty 1-D array, got shape {numbers.shape}"
            )
        if numbers.dtype.kind not in "iu" or (np.diff(numbers) <= 0).any():
            raise ValueError("section numbers must be strictly increasing integers")
        self.section_numbers = numbers
        sn = numbers.astype(float)
        #: Points with ``q`` outside ``[low, high]`` are reported as clamped.
        self.low = sn[0] - CLAMP_TOLERANCE_SECTIONS
        self.high = sn[-1] + CLAMP_TOLERANCE_SECTIONS
        halves = sn[1:] + sn[:-1]  # twice the mid-points: exact integers
        self._table = None
        if not len(halves) or halves[-1] - halves[0] + 1 > MAX_TABLE_ENTRIES:
            return
        # cells c = 2q rounded down, from one below the first mid-point to one above the
        # last (every q beyond them is clipped to these two, where no mid-point lies)
        self._offset = halves[0] - 1
        self._span = halves[-1] - halves[0] + 2
        cells = self._offset + np.arange(int(self._span) + 1)
        # mid-points at or below each cell's start c / 2 ...
        self._table = np.searchsorted(halves, cells, side="right").astype(np.intp)
        # ... and whether one is exactly there (a tie when q == c / 2)
        self._at_mid = np.zeros(len(cells), dtype=np.intp)
        self._at_mid[(halves - self._offset).astype(np.intp)] = 1

    def __call__(self, q: np.ndarray):
        """``(index, clamped)`` of each ``q``, exactly as :func:`nearest_sections`."""
        q = np.asarray(q, dtype=float)
        return self.index(q), self.clamped(q)

    def index(self, q: np.ndarray) -> np.ndarray:
        """Position in ``section_numbers`` of the section nearest to each ``q``
        (a float64 array)."""
        if self._table is None:
            if len(self.section_numbers) == 1:
                return np.zeros(q.shape, dtype=np.intp)
            return nearest_sections(self.section_numbers, q)[0]
        cell, tie = _cells(q, self._offset, self._span)
        if np.isnan(cell).any():
            return nearest_sections(self.section_numbers, q)[0]
        cell = cell.astype(np.intp)
        index = self._table.take(cell, mode="clip")
        if tie is not None and tie.any():
            where = np.flatnonzero(tie)
            index[where] -= self._at_mid.take(cell.take(where))
        return index

    def clamped(self, q: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Whether each ``q`` lies before the first or past the last section."""
        out = np.less(q, self.low, out=out)
        out |= q > self.high
        return out


def _cells(q: np.ndarray, offset, span):
    """``(cell, tie)`` of each ``q``: its table cell ``floor(2 q) - offset`` clipped to
    ``[0, span]`` (floats; NaN stays NaN) and whether ``q`` is exactly that cell's start
    ``c / 2`` (None when ties do not go to the lower section). ``offset`` and ``span``
    are one stack's, or one per ``q`` (:func:`index_of_each`)."""
    with np.errstate(over="ignore"):  # |q| > 9e307: 2q = inf, clipped below
        doubled = np.multiply(q, 2.0)
    cell = np.floor(doubled)
    # q == c / 2 exactly: a mid-point there is not below q (ties go to the lower)
    tie = np.equal(cell, doubled) if TIE_BREAK_TOWARDS_LOWER_SECTION else None
    cell -= offset
    np.clip(cell, 0.0, span, out=cell)
    return cell, tie


def index_of_each(lookups, q) -> np.ndarray:
    """``lookups[i].index(q[i])`` for every ``i``: one point into each of many stacks.

    A list service asks one point's nearest section in up to 10,000 data sets; calling
    :meth:`SectionLookup.index` once per data set costs NumPy's overhead on one-element
    arrays (about 12 µs) each time. Here the arithmetic of :meth:`SectionLookup.index`
    runs once over all the ``q`` (each with its own stack's table offset and span), and
    only the table reads are done stack by stack: the same operations on the same
    floats, hence the same indices.

    Parameters
    ----------
    lookups : sequence of SectionLookup
    q : array-like of float
        One ``vz / thickness`` per lookup.

    Returns
    -------
    numpy.ndarray of intp
        The position of the chosen section in each lookup's ``section_numbers``.

    Examples
    --------
    >>> a, b = SectionLookup([10, 12, 20]), SectionLookup([1, 2, 3, 4])
    >>> index_of_each([a, b, a], [11.0, 2.5, 16.5]).tolist()
    [0, 1, 2]
    """
    q = np.asarray(q, dtype=float).ravel()
    k = len(lookups)
    if q.shape != (k,):
        raise ValueError(f"one q per lookup: {k} lookups, {q.size} values")
    offsets = np.zeros(k)
    spans = np.zeros(k)
    tabled = np.zeros(k, dtype=bool)
    for i, lookup in enumerate(lookups):
        if lookup._table is not None:
            offsets[i], spans[i], tabled[i] = lookup._offset, lookup._span, True
    cell, tie = _cells(q, offsets, spans)
    own = np.isnan(cell) | ~tabled  # answered by the stack's own index (its fallbacks)
    cells = np.where(own, 0.0, cell).astype(np.intp).tolist()
    ties = [False] * k if tie is None else tie.tolist()
    out = np.empty(k, dtype=np.intp)
    for i, (lookup, c, t, alone) in enumerate(zip(lookups, cells, ties, own.tolist(),
                                                  strict=True)):
        if alone:
            out[i] = lookup.index(q[i : i + 1])[0]
        else:
            out[i] = lookup._table.item(c) - (lookup._at_mid.item(c) if t else 0)
    return out
