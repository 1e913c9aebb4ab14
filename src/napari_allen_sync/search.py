"""Finding experiments without ids, and finding structures by name (Qt-free).

Experiments
-----------
:class:`ExperimentSearch` finds SectionDataSets by gene (acronym or name,
case-insensitive, ``*`` as a wildcard), product and plane, and connectivity experiments
by injection structure, with the RMA queries Allen's own service answers (docs/search.md):

- by gene: ``model::SectionDataSet,rma::criteria,genes[acronym$il'calb1'],
  products[abbreviation$eq'Mouse'],plane_of_section[name$eq'coronal'],[failed$eqfalse],
  rma::include,genes,plane_of_section,products,rma::options[num_rows$eq2000][start_row$eq0]``
  (the acronym first; when no acronym matches, the same query on ``genes[name$il...]``);
- by product and/or plane only (no gene: a listing): the same query without the
  ``genes[...]`` condition; the sections are counted for at most :data:`MAX_COUNTED` data
  sets;
- by injection structure: the connected service
  ``service::mouse_connectivity_injection_structure[injection_structures$eq{acronym}]
  [primary_structure_only$eqtrue][start_row$eq0][num_rows$eq2000]``, then the data sets it
  names, ``model::SectionDataSet,rma::criteria,[id$in...],...`` as above;
- the usable sections of the data sets found:
  ``model::SectionImage,rma::criteria,[data_set_id$in...][failed$eqfalse],
  rma::options[only$eqid,data_set_id]...``.

Every query is paged (``start_row``/``num_rows`` until ``total_rows``) by
:meth:`napari_allen_sync.rma.RmaApi.paged`, and its whole answer is stored in the
persistent cache (:class:`~napari_allen_sync.cache.AllenCache`) as ``Search-{hash}``, so
the same search a second time makes no request (and works offline). An unknown gene or
structure gives an empty :class:`SearchResult` with a message; a malformed answer raises
:class:`~napari_allen_sync.errors.ServiceError`.

The same search runs with no network against a catalog (the demo's included):
:class:`LocalApi` answers the queries in-process with :func:`answer_query`, the function
our server (:mod:`napari_allen_sync.server`) answers them with over HTTP (both in
:mod:`napari_allen_sync.search_answers`, re-exported here).

Structures
----------
:class:`StructureIndex` (:mod:`napari_allen_sync.structure_search`, re-exported here)
finds structures of an ontology by acronym or name (substring, case-insensitive),
ranked: exact acronym first, then exact name, prefixes, word prefixes, substrings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from .errors import InvalidIdListError, ServiceError
from .records import PLANES
from .rma import PAGE_SIZE, RmaApi, RmaQuery, ServiceQuery, like_pattern, quote_value
from .search_answers import (
    INJECTION_SERVICE,
    LocalApi,
    _is_int,
    answer_query,
    data_set_facets,
    is_search_query,
    wildcard,
)
from .structure_search import StructureIndex

__all__ = [
    "INJECTION_SERVICE",
    "PRODUCTS",
    "DataSetHit",
    "ExperimentSearch",
    "Gene",
    "LocalApi",
    "SearchResult",
    "StructureIndex",
    "answer_query",
    "data_set_facets",
    "find_arguments",
    "is_search_query",
]

log = logging.getLogger(__name__)

#: The products of section data a user can choose (docs/search.md): option → abbreviation.
PRODUCTS = {"ish": "Mouse", "developing": "DevMouse", "connectivity": "Mouse Connectivity"}
#: What the search includes of each data set.
SEARCH_INCLUDE = "genes,plane_of_section,products"
#: Most data set ids per ``[id$in...]`` query (keeps URLs short).
IDS_PER_QUERY = 200
#: Prefix of cached search answers (see :data:`napari_allen_sync.catalog.SEARCH_PREFIX`).
CACHE_PREFIX = "Search"
#: Most data sets a listing by product and plane only counts the sections of (counting
#: is one SectionImage row per section: Allen's ~4,000 coronal in-situ data sets would
#: be ~200,000 rows); above it the listing leaves the counts out and says so.
MAX_COUNTED = 200
#: Longest gene text searched for (Allen's longest gene names are about 100 characters).
MAX_TEXT = 200
_ACRONYM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/. ]{0,63}")


# ====================================================================== typed results
@dataclass(frozen=True, slots=True)
class Gene:
    """A gene of a data set: its acronym (symbol), name and Allen id (when known)."""

    acronym: str
    name: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DataSetHit:
    """One data set found by a search.

    Attributes
    ----------
    id : int
        The SectionDataSet id.
    genes : tuple of Gene
        Its genes (one for an in-situ experiment, none for most connectivity ones).
    plane : str or None
        ``"coronal"``, ``"sagittal"`` or None when the answer does not say.
    products : tuple of str
        Product abbreviations (``"Mouse"``, ``"DevMouse"``, ``"Mouse Connectivity"``).
    section_count : int or None
        Usable (not failed) section images; None when not known.
    failed : bool
        Allen's ``failed`` flag (searches ask for ``failed$eqfalse``).
    reference_space_id : int or None
        The reference space its alignment3d maps into.
    injection_structures : tuple of str
        Acronyms of the injection structures (connectivity searches).
    """

    id: int
    genes: tuple[Gene, ...] = ()
    plane: str | None = None
    products: tuple[str, ...] = ()
    section_count: int | None = None
    failed: bool = False
    reference_space_id: int | None = None
    injection_structures: tuple[str, ...] = ()

    @property
    def gene_acronym(self) -> str | None:
        """The first gene's acronym (None without genes)."""
        return self.genes[0].acronym if self.genes else None

    @property
    def gene_name(self) -> str | None:
        """The first gene's name (None when unknown)."""
        return self.genes[0].name if self.genes else None

    @property
    def product(self) -> str:
        """The products, comma-separated (``"-"`` when none)."""
        return ",".join(self.products) or "-"

    def describe(self) -> str:
        """One line: id, gene, plane, product and section count (for the command line
        and the dock's list)."""
        if self.genes:
            gene = self.gene_acronym + (f" ({self.gene_name})" if self.gene_name else "")
        elif self.injection_structures:
            gene = "injection " + ",".join(self.injection_structures)
        else:
            gene = "-"
        count = "?" if self.section_count is None else str(self.section_count)
        return (f"{self.id}\t{gene}\t{self.plane or 'unknown plane'}\t{self.product}\t"
                f"{count} sections")

    def to_dict(self) -> dict:
        """A JSON-ready dict (``--json``)."""
        return {
            "id": self.id,
            "gene_acronym": self.gene_acronym,
            "gene_name": self.gene_name,
            "genes": [{"acronym": g.acronym, "name": g.name, "id": g.id} for g in self.genes],
            "plane": self.plane,
            "products": list(self.products),
            "section_count": self.section_count,
            "failed": self.failed,
            "reference_space_id": self.reference_space_id,
            "injection_structures": list(self.injection_structures),
        }

    @classmethod
    def from_rma(cls, row, url=None) -> DataSetHit:
        """Parse one row of a SectionDataSet search answer.

        Raises
        ------
        ServiceError
            When the row is not a data set with an integer id, or its genes, products or
            plane are malformed.
        """
        if not isinstance(row, dict):
            raise ServiceError(f"search answer row is not an object: {str(row)[:80]!r}", url=url)
        rid = row.get("id")
        if not _is_int(rid):
            raise ServiceError(f"search answer row without an integer id: {str(row)[:80]!r}",
                               url=url)
        genes = []
        for g in _list_of_objects(row.get("genes"), "genes", rid, url):
            acronym = g.get("acronym")
            if not isinstance(acronym, str) or not acronym:
                raise ServiceError(f"data set {rid}: a gene without an acronym: {g!r}", url=url)
            name = g.get("name")
            gid = g.get("id")
            genes.append(Gene(acronym, name if isinstance(name, str) else None,
                              gid if _is_int(gid) else None))
        products = []
        for p in _list_of_objects(row.get("products"), "products", rid, url):
            abbreviation = p.get("abbreviation")
            if not isinstance(abbreviation, str):
                raise ServiceError(f"data set {rid}: a product without an abbreviation: {p!r}",
                                   url=url)
            products.append(abbreviation)
        plane = _plane_name(row, rid, url)
        failed = row.get("failed", False)
        if not isinstance(failed, bool):
            raise ServiceError(f"data set {rid}: failed is {failed!r}, not true/false", url=url)
        space = row.get("reference_space_id")
        return cls(id=rid, genes=tuple(genes), plane=plane, products=tuple(products),
                   failed=failed, reference_space_id=space if _is_int(space) else None)


@dataclass(frozen=True)
class SearchResult:
    """What a search found, and a message when it found nothing (or had to leave
    something out).

    Iterating over a result gives its :class:`DataSetHit` records.
    """

    hits: tuple[DataSetHit, ...] = ()
    message: str | None = None
    #: The ``criteria=`` texts answered (from the network or the cache), in order.
    queries: tuple[str, ...] = field(default=(), compare=False)

    def __iter__(self):
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def ids(self) -> list[int]:
        """The data set ids found."""
        return [h.id for h in self.hits]


def _list_of_objects(value, name, rid, url) -> list:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ServiceError(f"data set {rid}: {name} is not a list of objects: {value!r:.80}",
                           url=url)
    return value


def _plane_name(row, rid, url) -> str | None:
    nested = row.get("plane_of_section")
    if isinstance(nested, dict) and isinstance(nested.get("name"), str):
        return nested["name"].lower()
    if nested is not None and not isinstance(nested, dict):
        raise ServiceError(f"data set {rid}: plane_of_section is {nested!r:.80}", url=url)
    pid = row.get("plane_of_section_id")
    if pid is None:
        return None
    if not _is_int(pid):
        raise ServiceError(f"data set {rid}: plane_of_section_id is {pid!r}", url=url)
    return PLANES.get(pid, f"plane {pid}")


# ====================================================================== the client side
class ExperimentSearch:
    """Finds experiments by gene, product, plane or injection structure.

    Parameters
    ----------
    api : napari_allen_sync.client.AllenApi or LocalApi
        Where the queries go: a service over HTTP, or a catalog in-process.
    cache : napari_allen_sync.cache.AllenCache, optional
        Where whole answers are kept (``Search-{hash}``); None: nothing is cached.
    page_size : int
        Rows per page.

    Attributes
    ----------
    fetched : int
        Pages requested from ``api`` so far (cache hits request nothing).

    Examples
    --------
    >>> from napari_allen_sync.demo import demo_catalog
    >>> search = ExperimentSearch(LocalApi(demo_catalog()))
    >>> [h.describe() for h in search.find(gene="calb1")]
    ['900100002\\tCalb1 (calbindin 1)\\tcoronal\\tMouse\\t66 sections']
    >>> search.find(gene="Nosuchgene").message
    "no data set of gene 'Nosuchgene'"
    """

    def __init__(self, api, cache=None, *, page_size: int = PAGE_SIZE):
        self.api = api
        self.cache = cache
        self.rma = _CountingRma(api, page_size)

    @property
    def fetched(self) -> int:
        return self.rma.fetched

    @classmethod
    def for_source(cls, source, *, page_size: int = PAGE_SIZE) -> ExperimentSearch:
        """The search of an :class:`~napari_allen_sync.source.AtlasSource`: over HTTP with
        its cache for a :class:`~napari_allen_sync.remote.RemoteSource`, in-process on
        its catalog for any other (the demo)."""
        api = getattr(source, "api", None)
        cache = getattr(source, "cache", None)
        if api is not None and hasattr(api, "get_envelope"):
            return cls(api, cache, page_size=page_size)
        return cls(LocalApi(source.catalog), page_size=page_size)

    # ------------------------------------------------------------------ searching
    def find(self, gene: str | None = None, *, product: str | None = None,
             plane: str | None = None, injection: str | None = None,
             refresh: bool = False) -> SearchResult:
        """Find data sets.

        Parameters
        ----------
        gene : str, optional
            A gene acronym or name, case-insensitive; ``*`` matches any text.
        product : {"ish", "developing", "connectivity"} or an abbreviation, optional
            Only data sets of this product (docs/search.md).
        plane : {"coronal", "sagittal"}, optional
        injection : str, optional
            A structure acronym (or id): connectivity experiments injected there or in a
            structure below it.
        refresh : bool
            Ask the service again even when the answer is cached.

        Returns
        -------
        SearchResult
            Empty, with a message, when nothing matches (an unknown gene included).

        Raises
        ------
        InvalidIdListError
            On an unknown product or plane, or when nothing is given to search by (no
            gene, injection structure, product or plane).

        Notes
        -----
        With neither gene nor injection, the search lists every data set of the product
        and plane given (paged, as the gene search is); above :data:`MAX_COUNTED` data
        sets their section counts are left out (``None``), and the result's message says
        so.
        ServiceError
            When the service fails or answers something malformed.
        """
        abbreviation = _product_abbreviation(product)
        plane = _plane_option(plane)
        queries: list[str] = []
        if injection is not None:
            if gene is not None:
                raise InvalidIdListError("search by gene or by injection structure, not both")
            if abbreviation not in (None, PRODUCTS["connectivity"]):
                raise InvalidIdListError("an injection search finds connectivity experiments "
                                         f"only, not product {product!r}")
            return self._by_injection(injection, plane, refresh, queries)
        if gene is None or not str(gene).strip():
            if abbreviation is None and plane is None:
                raise InvalidIdListError(
                    "nothing to search for: give a gene (acronym or name), an injection "
                    "structure, or a plane or product alone to list its data sets")
            return self._by_facets(abbreviation, plane, refresh, queries)
        return self._by_gene(str(gene).strip(), abbreviation, plane, refresh, queries)

    def _by_gene(self, gene, abbreviation, plane, refresh, queries) -> SearchResult:
        if len(gene) > MAX_TEXT:
            return SearchResult((), f"no data set of a gene named by {len(gene)} characters "
                                f"(at most {MAX_TEXT})", tuple(queries))
        described = _describe(f"gene {gene!r}", abbreviation, plane)
        try:
            pattern = like_pattern(gene)
        except InvalidIdListError:
            return SearchResult((), f"no data set of {described}: nothing to search for",
                                tuple(queries))
        hits: list[DataSetHit] = []
        for key in ("acronym", "name"):
            query = RmaQuery("SectionDataSet", [("failed", "eq", "false")],
                             include=SEARCH_INCLUDE,
                             associations=[("genes", key, "il", pattern),
                                           *_facet_conditions(abbreviation, plane)])
            found = self._answer(query, refresh, queries, _parse_hits)
            hits = [h for h in found if _gene_matches(h, key, gene)
                    and _facets_match(h, abbreviation, plane)]
            if hits:
                break
        if not hits:
            return SearchResult((), f"no data set of {described}", tuple(queries))
        return SearchResult(self._with_counts(hits, refresh, queries), None, tuple(queries))

    def _by_facets(self, abbreviation, plane, refresh, queries) -> SearchResult:
        """Every data set of a product and/or plane (no gene, no injection structure)."""
        described = _describe("any gene", abbreviation, plane)
        query = RmaQuery("SectionDataSet", [("failed", "eq", "false")],
                         include=SEARCH_INCLUDE,
                         associations=_facet_conditions(abbreviation, plane))
        hits = [h for h in self._answer(query, refresh, queries, _parse_hits)
                if _facets_match(h, abbreviation, plane)]
        if not hits:
            return SearchResult((), f"no data set of {described}", tuple(queries))
        if len({h.id for h in hits}) > MAX_COUNTED:
            hits = sorted({h.id: h for h in hits}.values(), key=lambda h: h.id)
            return SearchResult(tuple(hits), f"{len(hits)} data sets of {described}; their "
                                f"sections are counted for at most {MAX_COUNTED} (add a "
                                "gene to narrow the search)", tuple(queries))
        return SearchResult(self._with_counts(hits, refresh, queries), None, tuple(queries))

    def _by_injection(self, injection, plane, refresh, queries) -> SearchResult:
        text = str(injection).strip()
        described = _describe(f"injection structure {text!r}", None, plane)
        if not _ACRONYM.fullmatch(text):
            return SearchResult((), f"no connectivity experiment with {described}: "
                                "not a structure acronym", tuple(queries))
        service = ServiceQuery(INJECTION_SERVICE, [("injection_structures", "eq", text),
                                                   ("primary_structure_only", "eq", "true")])
        injected = self._answer(service, refresh, queries, _parse_injections)
        if not injected:
            return SearchResult((), f"no connectivity experiment with {described}",
                                tuple(queries))
        hits = []
        for chunk in _chunks(sorted(injected), IDS_PER_QUERY):
            query = RmaQuery("SectionDataSet",
                             [("id", "in", ",".join(map(str, chunk))), ("failed", "eq", "false")],
                             include=SEARCH_INCLUDE,
                             associations=_facet_conditions(None, plane))
            for h in self._answer(query, refresh, queries, _parse_hits):
                if h.id in injected and _facets_match(h, None, plane):
                    hits.append(replace(h, injection_structures=injected[h.id]))
        if not hits:
            return SearchResult((), f"no connectivity experiment with {described}",
                                tuple(queries))
        return SearchResult(self._with_counts(hits, refresh, queries), None, tuple(queries))

    def _with_counts(self, hits, refresh, queries) -> tuple[DataSetHit, ...]:
        """The hits (sorted by id) with their counts of usable sections."""
        hits = sorted({h.id: h for h in hits}.values(), key=lambda h: h.id)
        counts: Counter = Counter()
        for chunk in _chunks([h.id for h in hits], IDS_PER_QUERY):
            query = RmaQuery("SectionImage", [("data_set_id", "in", ",".join(map(str, chunk))),
                                              ("failed", "eq", "false")],
                             only=("id", "data_set_id"))
            counts.update(self._answer(query, refresh, queries, _parse_image_counts))
        return tuple(replace(h, section_count=counts[h.id]) for h in hits)

    # ------------------------------------------------------------------ answers
    def _answer(self, query, refresh, queries, parse):
        """``parse(rows, url)`` of every row of a query: from the cache, or paged from the
        service, parsed, and only then cached (a malformed answer is never stored)."""
        criteria = query.to_criteria()
        queries.append(criteria)
        url = self.api.url(query.path())
        if self.cache is None:
            return parse(self.rma.paged(query)["msg"], url)
        name = cache_name(query)
        with self.cache.lock(name):
            if not refresh and self.cache.has_rma(name):
                rows = _read_cached(self.cache.rma_path(name))
                if rows is not None:
                    try:
                        return parse(rows, url)
                    except ServiceError as exc:
                        log.warning("cached search answer %s is unusable (%s): asking again",
                                    name, exc)
            data = self.rma.paged(query)
            out = parse(data["msg"], url)
            self.cache.store_rma(name, {**data, "query": criteria})
            return out


def cache_name(query) -> str:
    """The cache item name of a query's whole answer (paging left out)."""
    text = replace(query, start_row=None, num_rows=None).to_criteria()
    text = text.replace("[num_rows$eqall]", "").removesuffix(",rma::options")
    return f"{CACHE_PREFIX}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def _parse_hits(rows, url) -> list[DataSetHit]:
    return [DataSetHit.from_rma(r, url) for r in rows]


def _parse_injections(rows, url) -> dict[int, tuple[str, ...]]:
    injected = {}
    for row in rows:
        if not isinstance(row, dict) or not _is_int(row.get("id")):
            raise ServiceError(f"injection search row without an integer id: "
                               f"{str(row)[:80]!r}", url=url)
        injected[row["id"]] = _injection_acronyms(row, url)
    return injected


def _parse_image_counts(rows, url) -> Counter:
    counts: Counter = Counter()
    for r in rows:
        if not isinstance(r, dict) or not _is_int(r.get("data_set_id")):
            raise ServiceError(f"section image row without an integer data_set_id: "
                               f"{str(r)[:80]!r}", url=url)
        counts[r["data_set_id"]] += 1
    return counts


def _read_cached(path) -> list | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["msg"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cached search answer %s is unreadable (%s): asking again", path, exc)
        return None
    return rows if isinstance(rows, list) else None


class _CountingRma(RmaApi):
    """:class:`RmaApi` that counts the pages it requests."""

    def __init__(self, api, page_size):
        super().__init__(_Counted(api), page_size)

    @property
    def fetched(self) -> int:
        return self.api.count


class _Counted:
    def __init__(self, api):
        self.api = api
        self.count = 0

    def url(self, path):
        return self.api.url(path)

    def get_envelope(self, url, **kw):
        self.count += 1
        return self.api.get_envelope(url, **kw)


def _chunks(values, n):
    values = list(values)
    return [values[k:k + n] for k in range(0, len(values), n)] or []


def _product_abbreviation(product) -> str | None:
    if product is None:
        return None
    text = str(product).strip()
    if text.lower() in PRODUCTS:
        return PRODUCTS[text.lower()]
    if text in PRODUCTS.values():
        return text
    raise InvalidIdListError(
        f"unknown product {product!r}: one of {', '.join(PRODUCTS)} "
        f"(or {', '.join(repr(v) for v in PRODUCTS.values())})")


def _plane_option(plane) -> str | None:
    if plane is None:
        return None
    text = str(plane).strip().lower()
    if text not in PLANES.values():
        raise InvalidIdListError(f"unknown plane {plane!r}: coronal or sagittal")
    return text


def _facet_conditions(abbreviation, plane) -> list:
    out = []
    if abbreviation is not None:
        out.append(("products", "abbreviation", "eq", quote_value(abbreviation)))
    if plane is not None:
        out.append(("plane_of_section", "name", "eq", quote_value(plane)))
    return out


def _facets_match(hit: DataSetHit, abbreviation, plane) -> bool:
    """Whether a hit agrees with the filters (a server that ignores one is caught)."""
    if abbreviation is not None and hit.products and abbreviation not in hit.products:
        return False
    return not (plane is not None and hit.plane is not None and hit.plane != plane)


def _gene_matches(hit: DataSetHit, key: str, text: str) -> bool:
    pattern = wildcard(text)
    for g in hit.genes:
        value = g.acronym if key == "acronym" else g.name
        if value is not None and pattern.fullmatch(value):
            return True
    return False


def _describe(what, abbreviation, plane) -> str:
    parts = [what]
    if abbreviation is not None:
        parts.append(f"product {abbreviation!r}")
    if plane is not None:
        parts.append(f"plane {plane}")
    return ", ".join(parts)


def _injection_acronyms(row, url) -> tuple[str, ...]:
    nested = row.get("injection-structures")
    out = []
    if isinstance(nested, list):
        for s in nested:
            if isinstance(s, dict) and isinstance(s.get("abbreviation"), str):
                out.append(s["abbreviation"])
    elif nested is not None:
        raise ServiceError(f"experiment {row['id']}: injection-structures is {nested!r:.80}",
                           url=url)
    primary = row.get("structure-abbrev")
    if isinstance(primary, str) and primary not in out:
        out.insert(0, primary)
    return tuple(out)


_PRODUCT_WORDS = {"ish": "ish", "insitu": "ish", "adult": "ish", "developing": "developing",
                  "devmouse": "developing", "connectivity": "connectivity"}


def find_arguments(text: str) -> dict:
    """The :meth:`ExperimentSearch.find` arguments of a one-line search, as a dock's search
    field takes it: ``"Calb1, coronal"``, ``"calbindin 1 sagittal ish"``,
    ``"injection:MOp"``.

    ``coronal``/``sagittal`` set the plane, ``ish``/``developing``/``connectivity`` the
    product, ``injection:X`` (or ``inj:X``) the injection structure; the other words, in
    order, are the gene. Filter words alone (``"coronal"``, ``"ish sagittal"``) list every
    data set of that plane and product.

    Examples
    --------
    >>> find_arguments("Calb1, coronal")
    {'gene': 'Calb1', 'plane': 'coronal'}
    >>> find_arguments("calbindin 1 sagittal ISH")
    {'gene': 'calbindin 1', 'plane': 'sagittal', 'product': 'ish'}
    >>> find_arguments("injection:MOp coronal")
    {'injection': 'MOp', 'plane': 'coronal'}
    >>> find_arguments("coronal")
    {'plane': 'coronal'}
    """
    out: dict = {}
    words = []
    for word in re.split(r"[\s,;]+", text or ""):
        if not word:
            continue
        low = word.lower()
        key, _, value = word.partition(":")
        if low in PLANES.values():
            out["plane"] = low
        elif low in _PRODUCT_WORDS:
            out["product"] = _PRODUCT_WORDS[low]
        elif value and key.lower() in ("injection", "inj"):
            out["injection"] = value
        else:
            words.append(word)
    if words:
        out = {"gene": " ".join(words), **out}
    return out
