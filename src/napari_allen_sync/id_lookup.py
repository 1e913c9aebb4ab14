"""Where each of millions of integer ids sits in a small set of ids, in constant time.

Labelling a million points with their structure means finding each point's structure id
among the ontology's (about 1300 ids, up to 2**32). A binary search per point
(``np.searchsorted``) costs about 20 ms; ``np.unique`` first costs more. :class:`IdLookup`
builds a *perfect hash* of the set once: a multiplicative hash
``(id · A mod 2**64) >> (64 − bits)`` with a multiplier ``A`` chosen so that no two ids
of the set share a slot. A lookup is then one multiplication, one shift and two
gathers per id, and a comparison with the id found in the slot tells members from
non-members exactly (the hash only says where to look).

Imports nothing but NumPy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IdLookup"]

#: Odd 64-bit multipliers tried in turn (the golden ratio's and other well-mixed
#: constants, then their successive odd neighbours): deterministic, so the same set
#: always gets the same table.
_MULTIPLIERS = (
    0x9E3779B97F4A7C15,
    0xBF58476D1CE4E5B9,
    0x94D049BB133111EB,
    0xD6E8FEB86659FD93,
    0xA0761D6478BD642F,
    0xE7037ED1A0B428DB,
    0x8EBC6AF09C88C6E3,
    0x589965CC75374CC3,
)
#: The table holds at most ``2**MAX_BITS`` slots (int32: 64 MiB at 24 bits).
MAX_BITS = 24
#: Points are looked up in blocks of this many, so temporaries stay in the CPU cache.
BLOCK = 1 << 15


class IdLookup:
    """Positions of ids in a fixed set of distinct non-negative integer ids.

    Parameters
    ----------
    keys : array-like of int
        The set (distinct, non-negative, below 2**63).

    Examples
    --------
    >>> lookup = IdLookup([549, 315, 997])
    >>> lookup.positions(np.array([315, 0, 997, 549, 12])).tolist()
    [1, -1, 2, 0, -1]
    """

    def __init__(self, keys):
        keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        if len(keys) and (keys.min() < 0 or len(np.unique(keys)) != len(keys)):
            raise ValueError("ids of an IdLookup must be distinct and non-negative")
        self.keys = keys
        # slot → position + 1 (0: empty), and position + 1 → key (-1 for "none", which
        # no non-negative id equals)
        self._keys = np.concatenate([[-1], keys])
        self._multiplier, self._shift, self._slots = self._build(keys)

    @staticmethod
    def _build(keys: np.ndarray):
        n = max(len(keys), 1)
        lowest = max(4, int(np.ceil(np.log2(n))) + 1)
        hashed = keys.view(np.uint64)
        for bits in range(lowest, MAX_BITS + 1):
            shift = np.uint64(64 - bits)
            for a in _MULTIPLIERS:
                multiplier = np.uint64(a)
                slots = (hashed * multiplier) >> shift
                if len(np.unique(slots)) == len(keys):
                    dtype = np.int16 if len(keys) < 2**15 else np.int32
                    table = np.zeros(1 << bits, dtype=dtype)
                    table[slots.astype(np.intp)] = np.arange(1, len(keys) + 1)
                    return multiplier, shift, table
        return None, None, None  # no perfect hash this small: binary search instead

    def positions(self, ids) -> np.ndarray:
        """The position of each id in ``keys``, -1 where it is not one of them.

        Parameters
        ----------
        ids : array-like of int
            Any integers (negative ones included).

        Returns
        -------
        numpy.ndarray of intp
        """
        out = self.numbers(ids)
        out -= 1
        return out

    def numbers(self, ids) -> np.ndarray:
        """One more than :meth:`positions` (0 where absent): an index into a table whose
        first entry stands for "none" (``[none, *values]``)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        out = np.empty(len(ids), dtype=np.intp)
        for start in range(0, len(ids), BLOCK):
            block = slice(start, start + BLOCK)
            out[block] = self._numbers_of(ids[block])
        return out

    def _numbers_of(self, ids: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return np.zeros(len(ids), dtype=np.intp)
        if self._slots is None:
            order = np.argsort(self.keys)
            sorted_keys = self.keys.take(order)
            at = np.searchsorted(sorted_keys, ids)
            np.minimum(at, len(sorted_keys) - 1, out=at)
            found = sorted_keys.take(at) == ids
            return np.where(found, order.take(at) + 1, 0)
        h = ids.view(np.uint64) * self._multiplier
        h >>= self._shift
        number = self._slots.take(h.view(np.int64), mode="clip").astype(np.intp)
        number *= self._keys.take(number, mode="clip") == ids
        return number
