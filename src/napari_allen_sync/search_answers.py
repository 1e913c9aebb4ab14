"""Answering search queries from a catalog, as Allen's service would (Qt-free).

:func:`answer_query` is what our server (:mod:`napari_allen_sync.server`) answers the
queries of :mod:`napari_allen_sync.search` with, over HTTP, for the demo and for a
catalog folder; :class:`LocalApi` answers them in-process (the demo with no network).
The subset answered and where each fact comes from: ``docs/search.md``.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qs, urlsplit

from .catalog import envelope
from .errors import AllenSyncError, InvalidIdListError, ServiceError
from .records import PLANES, SectionDataSet, Structure
from .rma import RmaQuery, ServiceQuery, parse_query, unquote

__all__ = [
    "INJECTION_SERVICE",
    "LocalApi",
    "answer_query",
    "data_set_facets",
    "is_search_query",
]

#: The connected service that finds connectivity experiments by injection site.
INJECTION_SERVICE = "mouse_connectivity_injection_structure"
#: Product names (as the demo records carry them) → abbreviations.
PRODUCT_ABBREVIATIONS = {
    "Mouse Brain": "Mouse",
    "Developing Mouse Brain": "DevMouse",
    "Mouse Connectivity": "Mouse Connectivity",
    "Reference Atlas": "ReferenceAtlas",
}
#: Rows of an answer when the query names no ``num_rows`` (RMA's default).
RMA_DEFAULT_ROWS = 50


def wildcard(text: str) -> re.Pattern:
    """The case-insensitive pattern of an ``$il`` value: ``*`` matches any text."""
    return re.compile(".*".join(re.escape(p) for p in text.split("*")), re.I | re.S)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class LocalApi:
    """Answers RMA search queries from a catalog in-process: the transport of
    :class:`ExperimentSearch` for the demo and for catalog folders, offline.

    It has the two methods :class:`~napari_allen_sync.rma.RmaApi` uses
    (:meth:`url`, :meth:`get_envelope`), and answers with :func:`answer_query`, as our
    server does over HTTP.
    """

    base_uri = "local:"

    def __init__(self, catalog):
        self.catalog = catalog

    def url(self, path: str) -> str:
        return self.base_uri + path

    def get_envelope(self, url: str, **_) -> dict:
        values = parse_qs(urlsplit(url).query, keep_blank_values=True).get("criteria")
        try:
            if not values:
                raise InvalidIdListError("the query has no criteria")
            return answer_query(self.catalog, values[-1])
        except AllenSyncError as exc:
            raise ServiceError(f"the service reports failure: {exc}", url=url) from exc


def is_search_query(text: str) -> bool:
    """Whether a ``criteria=`` text needs :func:`answer_query` (association filters,
    ``$il``, the ``only`` option, an include of genes, products or plane_of_section, or
    a connected service) rather than plain record lookup."""
    text = text or ""
    return (text.startswith("service::") or "$il" in text or "[only$" in text
            or re.search(r"(?:criteria,|\],|\),)\w+\[", text) is not None
            or re.search(r"rma::include,(?:[^:]*,)?(?:genes|products|plane_of_section)\b",
                         text) is not None)


def answer_query(catalog, text: str) -> dict:
    """Answer a search query from a catalog, as Allen's service would: an envelope with
    one page of rows.

    Answers ``model::SectionDataSet`` (top-level conditions ``$eq``/``$in``/``$il``;
    association conditions on ``genes``, ``products``, ``plane_of_section``;
    ``rma::include`` of those), ``model::SectionImage`` (top-level conditions, the
    ``only`` option) and ``service::mouse_connectivity_injection_structure``
    (``injection_structures`` or ``injection_domain``: acronyms or ids; an experiment
    matches when its injection structure is that structure or below it). Atlas data sets
    are not experiments and are never found.

    Parameters
    ----------
    catalog : Catalog
    text : str
        The ``criteria=`` text.

    Returns
    -------
    dict
        ``{"success": true, "start_row": k, "num_rows": n, "total_rows": N, "msg": [...]}``.

    Raises
    ------
    InvalidIdListError
        On a query outside this subset (the server answers 400).
    """
    query = parse_query(text)
    if isinstance(query, ServiceQuery):
        if query.name != INJECTION_SERVICE:
            raise InvalidIdListError(f"service {query.name!r} is not served here")
        rows = _injection_rows(catalog, query.params)
    elif query.model == "SectionDataSet":
        rows = _data_set_rows(catalog, query)
    elif query.model == "SectionImage":
        if query.associations:
            raise InvalidIdListError("SectionImage searches take no association conditions")
        rows = [_strip(im.to_rma(), ("alignment2d",))
                for im in list(catalog.section_images.values())
                if type(im).__name__ == "SectionImage"]
        rows = [r for r in rows if _row_matches(r, query.filters)]
    else:
        raise InvalidIdListError(f"model {query.model!r} is not searchable here")
    if isinstance(query, RmaQuery) and query.only:
        rows = [{k: r[k] for k in query.only if k in r} for r in rows]
    start = query.start_row or 0
    count = RMA_DEFAULT_ROWS if query.num_rows is None else query.num_rows
    if isinstance(query, RmaQuery) and query.all_rows:
        count = len(rows)
    page = rows[start:start + count]
    out = envelope(page)
    out.update(start_row=start, total_rows=len(rows))
    return out


def _strip(row, keys):
    for k in keys:
        row.pop(k, None)
    return row


def _includes(include: str | None) -> set[str]:
    names, depth, current = set(), 0, ""
    for c in include or "":
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            names.add(current.strip())
            current = ""
            continue
        if depth == 0 and c not in "()":
            current += c
    names.add(current.strip())
    return names - {""}


def _data_set_rows(catalog, query: RmaQuery) -> list[dict]:
    known = {"genes", "products", "plane_of_section"}
    by_association: dict[str, list] = {}
    for a, f, op, v in query.associations:
        if a not in known:
            raise InvalidIdListError(f"association {a!r} of SectionDataSet is not served here")
        by_association.setdefault(a, []).append((f, op, v))
    include = _includes(query.include)
    atlas = {d for a in catalog.atlases.values() for d in a.data_set_ids}
    rows = []
    for ds in sorted(catalog.section_data_sets.values(), key=lambda d: d.id):
        if ds.id in atlas:
            continue
        facets = data_set_facets(ds)
        row = _strip(ds.to_rma(), ("alignment3d", "section_images", "atlas_images", "genes",
                                   "products", "plane_of_section", "gene", "product"))
        if not _row_matches(row, query.filters):
            continue
        if not all(any(_row_matches(obj, conds) for obj in _as_list(facets[a]))
                   for a, conds in by_association.items()):
            continue
        for a in known & include:
            row[a] = facets[a]
        rows.append(row)
    return rows


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def data_set_facets(ds: SectionDataSet) -> dict:
    """The genes, products, plane and injection structure of a catalog's data set, as
    Allen's ``rma::include,genes,plane_of_section,products`` gives them.

    Read from the record (``genes``/``products`` lists as Allen sends them); the demo's
    records carry only ``gene`` (the acronym), ``product`` (the product's name) and
    ``name``, so the gene's name is taken from the data set's name ("Calb1 – calbindin
    1, coronal ...") and the abbreviation from the product's name; the demo's
    connectivity experiment has no injection structure in its record: it is the phantom's
    structure at the demo's injection site.
    """
    extra = ds.extra
    genes = extra.get("genes")
    if not isinstance(genes, list):
        symbol = extra.get("gene")
        genes = []
        if isinstance(symbol, str) and symbol:
            genes = [{"id": None, "acronym": symbol, "name": _gene_name(extra.get("name"))}]
    products = extra.get("products")
    if not isinstance(products, list):
        name = extra.get("product")
        products = []
        if isinstance(name, str) and name:
            products = [{"id": None, "name": name,
                         "abbreviation": PRODUCT_ABBREVIATIONS.get(name, name)}]
    pid = ds.plane_of_section_id
    plane = None if pid is None else {"id": pid, "name": PLANES.get(pid, f"plane {pid}")}
    injection = extra.get("injection_structure_id")
    if not _is_int(injection):
        injection = _demo_injection(ds.id)
    return {"genes": genes, "products": products, "plane_of_section": plane,
            "injection_structure_id": injection}


def _gene_name(text) -> str | None:
    if not isinstance(text, str) or " – " not in text:
        return None
    return text.split(" – ", 1)[1].split(",", 1)[0].strip() or None


def _demo_injection(data_set_id: int) -> int | None:
    """The demo connectivity experiment's injection structure (None for other ids)."""
    if data_set_id not in _demo_connectivity_ids():
        return None
    return _demo_injection_site()


@functools.cache
def _demo_connectivity_ids() -> frozenset[int]:
    from .demo.experiments import EXPERIMENTS

    return frozenset(s.id for s in EXPERIMENTS if s.product == "Mouse Connectivity")


@functools.cache
def _demo_injection_site() -> int:
    from .demo.experiments import INJECTION_SITE_UM
    from .demo.phantom import structure_id_at

    return int(structure_id_at(*[[v] for v in INJECTION_SITE_UM])[0])


def _row_matches(row: dict, conditions) -> bool:
    for f, op, raw in conditions:
        if f not in row or not _value_matches(row[f], op, raw):
            return False
    return True


def _value_matches(value, op, raw) -> bool:
    if value is None or isinstance(value, dict | list):
        return False
    text = _rma_text(value)
    if op == "eq":
        return text == unquote(raw)
    if op == "in":
        return text in {unquote(v) for v in _split_list(raw)}
    if op == "il":
        return wildcard(unquote(raw)).fullmatch(text) is not None
    return False


def _split_list(raw: str) -> list[str]:
    raw = raw.strip()
    if raw[:1] in "'\"" and raw[-1:] == raw[:1] and raw.count(raw[0]) == 2:
        return [unquote(raw)]
    return [v.strip() for v in raw.split(",")]


def _rma_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _injection_rows(catalog, params) -> list[dict]:
    wanted = _wanted_injection_structures(catalog, params)
    rows = []
    for ds in sorted(catalog.section_data_sets.values(), key=lambda d: d.id):
        sid = data_set_facets(ds)["injection_structure_id"]
        if sid is None or sid not in catalog.structures:
            continue
        s = catalog.structures[sid]
        chain = set(s.structure_id_path) | {s.id}
        if chain & wanted:
            rows.append(_injection_row(ds.id, s))
    return rows


def _wanted_injection_structures(catalog, params) -> set[int]:
    """The ids of the structures the service's parameters name (unknown ones left out)."""
    wanted: set[int] = set()
    named = False
    for p, op, raw in params:
        if p in ("injection_structures", "injection_domain"):
            if op != "eq":
                raise InvalidIdListError(f"{p} needs $eq")
            named = True
            found = (_structure(catalog, unquote(value)) for value in _split_list(raw))
            wanted.update(s.id for s in found if s is not None)
        elif p not in ("primary_structure_only", "injection_hemisphere", "transgenic_lines",
                       "product_ids", "target_domain", "target_hemisphere"):
            # (the others are accepted; the demo's experiments have one primary structure)
            raise InvalidIdListError(f"unknown parameter {p!r} of {INJECTION_SERVICE}")
    if not named:
        raise InvalidIdListError(f"{INJECTION_SERVICE} needs injection_structures")
    return wanted


def _injection_row(data_set_id: int, s: Structure) -> dict:
    """The service's row of an experiment injected in structure ``s``."""
    return {
        "id": data_set_id,
        "structure-id": s.id,
        "structure-abbrev": s.acronym,
        "structure-name": s.name,
        "injection-structures": [{"id": s.id, "abbreviation": s.acronym, "name": s.name}],
        "product-id": 5,
        "transgenic-line": "",
    }


def _structure(catalog, text: str) -> Structure | None:
    if text.isdigit():
        return catalog.structures.get(int(text))
    folded = text.casefold()
    for s in catalog.structures.values():
        if s.acronym.casefold() == folded:
            return s
    return None


