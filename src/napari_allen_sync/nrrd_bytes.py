"""An annotation volume as gzip-encoded NRRD bytes that depend on nothing but the data.

pynrrd's writer stamps every file with the time of writing (a comment line
``# on YYYY-MM-DD HH:MM:SS(GMT).`` in the header), so the same volume written twice gave
two files with different SHA-256 digests: a bundle or a served demo volume could not be
checked against a digest recorded earlier. :func:`annotation_nrrd_bytes` writes the same
header fields as pynrrd did (Allen's layout: sizes AP DV LR, the AP axis fastest,
``space directions`` the voxel size in µm), without the time, and a gzip stream with a
fixed header (modification time 0, operating system "unknown", RFC 1952), so the bytes are
a function of the ids, the voxel size and the compression level alone (and of the zlib
build, whose deflate output is stable within a version). pynrrd, AllenSDK's
``ReferenceSpaceApi`` (which reads with pynrrd) and any gzip reader read them.

Imports nothing but NumPy and the standard library.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["GZIP_HEADER", "annotation_nrrd_bytes", "nrrd_header"]

#: RFC 1952 member header: magic, deflate, no flags, MTIME 0, XFL 0, OS 255 (unknown).
GZIP_HEADER = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\xff"


def _number(value: float) -> str:
    """A voxel size as pynrrd writes a double: an integer without a fraction, else up
    to 17 significant digits."""
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:.17g}"


def nrrd_header(shape, resolution_um: float) -> bytes:
    """The NRRD header (up to and including the blank line) of a uint32 volume of
    ``shape`` (AP, DV, LR) voxels of ``resolution_um`` µm, gzip-encoded.

    Examples
    --------
    >>> print(nrrd_header((2, 3, 4), 25.0).decode())  # doctest: +NORMALIZE_WHITESPACE
    NRRD0005
    # Complete NRRD file format specification at:
    # http://teem.sourceforge.net/nrrd/format.html
    type: uint32
    dimension: 3
    space dimension: 3
    sizes: 2 3 4
    space directions: (25,0,0) (0,25,0) (0,0,25)
    kinds: domain domain domain
    endian: little
    encoding: gzip
    space units: "microns" "microns" "microns"
    space origin: (0,0,0)
    """
    n0, n1, n2 = (int(n) for n in shape)
    r = _number(resolution_um)
    lines = [
        "NRRD0005",
        "# Complete NRRD file format specification at:",
        "# http://teem.sourceforge.net/nrrd/format.html",
        "type: uint32",
        "dimension: 3",
        "space dimension: 3",
        f"sizes: {n0} {n1} {n2}",
        f"space directions: ({r},0,0) (0,{r},0) (0,0,{r})",
        "kinds: domain domain domain",
        "endian: little",
        "encoding: gzip",
        'space units: "microns" "microns" "microns"',
        "space origin: (0,0,0)",
    ]
    return ("\n".join(lines) + "\n\n").encode("ascii")


def annotation_nrrd_bytes(
    ids: np.ndarray, resolution_um: float, compression_level: int = 1
) -> bytes:
    """A 3-D volume of structure ids as a gzip-encoded NRRD file, in memory.

    Parameters
    ----------
    ids : numpy.ndarray
        Non-negative integer ids indexed (AP, DV, LR); written as little-endian uint32
        with the AP axis fastest (NRRD's order: sizes ``AP DV LR``).
    resolution_um : float
        The voxel edge (µm), written as ``space directions``.
    compression_level : int
        zlib's level, 0 (none) to 9.

    Returns
    -------
    bytes
        The file: the same bytes for the same arguments, whenever and wherever written
        (with the same zlib).

    Examples
    --------
    >>> import io, nrrd
    >>> ids = np.arange(24, dtype=np.uint32).reshape(2, 3, 4)
    >>> body = annotation_nrrd_bytes(ids, 100)
    >>> body == annotation_nrrd_bytes(ids.copy(order="F"), 100.0)
    True
    >>> fh = io.BytesIO(body)
    >>> back = nrrd.read_data(nrrd.read_header(fh), fh, index_order="F")
    >>> bool((back == ids).all())
    True
    """
    ids = np.asarray(ids)
    if ids.ndim != 3:
        raise ValueError(f"an annotation volume is 3-D, got shape {ids.shape}")
    deflate = zlib.compressobj(compression_level, zlib.DEFLATED, -zlib.MAX_WBITS)
    parts = [nrrd_header(ids.shape, resolution_um), GZIP_HEADER]
    crc = 0
    size = 0
    # one LR plane at a time, AP fastest: the file's order without a copy of the volume
    for k in range(ids.shape[2]):
        plane = np.ascontiguousarray(ids[:, :, k].T, dtype="<u4")
        raw = memoryview(plane).cast("B")
        crc = zlib.crc32(raw, crc)
        size += raw.nbytes
        parts.append(deflate.compress(raw))
    parts.append(deflate.flush())
    parts.append(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    return b"".join(parts)
