"""Build catalogs from the answers recorded from the live Allen service.

``tests/data/ground-truth.json`` (a copy of ``shared/allen-sync/ground-truth.json``)
holds each recorded answer with the matrices that produce it. A recorded case knows
only some matrices: image_to_reference cases give TSV and TVR, reference_to_image
cases give TRV and the *returned* image's TVS. The missing inverses are computed
exactly (they are never used to produce a checked number).

For the section choice of reference_to_image, a data set needs its other images.
``known_sections`` uses only images that the recordings show to exist; ``series``
also fills in the data set's interleaved series (every 8th section for these 25 µm
in-situ data sets, SPEC.md §7) between the first and last recorded section. The
fill-in images carry a copy of a known matrix: they can be chosen, but no recorded
number depends on their matrices.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from napari_allen_sync.catalog import Catalog
from napari_allen_sync.records import Alignment2d, Alignment3d, SectionDataSet, SectionImage

DATA = Path(__file__).parents[1] / "data"
SERIES_STEP = 8


def load_cases():
    """The recorded cases."""
    return json.loads((DATA / "ground-truth.json").read_text())["cases"]


def request_params(case):
    """Service, path id and query parameters of a recorded request URL."""
    url = urlparse(case["request"])
    service = url.path.split("/")[3]
    path_id = int(url.path.split("/")[4].split(".")[0])
    query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    return service, path_id, query


def _inv_3x4(m):
    full = np.vstack([np.asarray(m, float), [0, 0, 0, 1]])
    return np.linalg.inv(full)[:3]


def _inv_2x3(m):
    full = np.vstack([np.asarray(m, float), [0, 0, 1]])
    return np.linalg.inv(full)[:2]


def _alignment3d_matrices(sds):
    if "alignment3d" in sds:
        a = Alignment3d.from_rma(sds["alignment3d"])
        return a.tvr_matrix, a.trv_matrix
    if "tvr_3x4" in sds:
        return np.array(sds["tvr_3x4"]), _inv_3x4(sds["tvr_3x4"])
    return _inv_3x4(sds["trv_3x4"]), np.array(sds["trv_3x4"])


def _data_set(sds, tvr, trv):
    return SectionDataSet(
        id=sds["id"],
        plane_of_section_id=1 if sds["plane"] == "coronal" else 2,
        section_thickness=sds["section_thickness"],
        reference_space_id=sds["reference_space_id"],
        alignment3d=Alignment3d.from_matrices(tvr, trv, aligned_id=sds["id"]),
    )


def _image(image_id, data_set_id, section_number, tsv, tvs):
    return SectionImage(
        id=image_id,
        data_set_id=data_set_id,
        section_number=section_number,
        width=20000,
        height=12000,
        alignment2d=Alignment2d.from_matrices(tsv, tvs, section_image_id=image_id),
    )


def case_catalog(case, *, fill_series: bool):
    """A catalog holding what one recorded case needs, plus every image the recordings
    show for the same data set (so the section choice has real competitors)."""
    sds = case["section_data_set"]
    ds_id = sds["id"]
    cases = [c for c in load_cases() if c["section_data_set"]["id"] == ds_id]
    tvr, trv = _alignment3d_matrices(sds)
    records = [_data_set(sds, tvr, trv)]
    images = {}
    for c in cases:
        if c["service"] == "image_to_reference":
            si = c["section_image"]
            images[si["id"]] = (
                si["section_number"],
                np.array(si["tsv_2x3"]),
                _inv_2x3(si["tsv_2x3"]),
            )
        elif "expected_image_sync" in c:
            e = c["expected_image_sync"]
            tvs = np.array(c["returned_image_tvs_2x3"])
            images[e["section_image_id"]] = (e["section_number"], _inv_2x3(tvs), tvs)
    if not images:  # data set 479: only the section numbering is known
        first, second = sds["first_section_numbers"]
        step = second - first
        numbers = [first + k * step for k in range(sds["image_count"])]
        tsv = np.array([[1.63, 0.0, 0.0], [0.0, 1.63, 0.0]])
        for k, n in enumerate(numbers):
            images[-(k + 1)] = (n, tsv, _inv_2x3(tsv))
    if fill_series:
        known = sorted(n for n, _, _ in images.values())
        template = next(iter(images.values()))
        for n in range(known[0], known[-1] + 1):
            if n not in known and any((n - k) % SERIES_STEP == 0 for k in known):
                images[-1_000_000 - n] = (n, template[1], template[2])
    for image_id, (n, tsv, tvs) in images.items():
        records.append(_image(image_id, ds_id, n, tsv, tvs))
    return Catalog(records)
