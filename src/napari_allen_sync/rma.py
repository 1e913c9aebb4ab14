"""Allen RMA metadata queries: the records the synchronization needs, fetched raw.

RMA (RESTful Model Access) is the query language of ``/api/v2/data/``. This module
builds the queries the client sends, fetches their answers as raw envelopes (to be
stored as they are by :mod:`napari_allen_sync.cache`), pages through long lists, and
parses answers into records with :mod:`napari_allen_sync.catalog`. It also parses the
subset of RMA that :mod:`napari_allen_sync.server` answers.

Query forms used
----------------
- SectionDataSet with its images and alignments: the model form
  ``/api/v2/data/SectionDataSet/{id}.json?include=section_images(alignment2d),alignment3d``,
  the form docs/wire-format.md names and Allen's documentation uses. The equivalent query form
  ``/api/v2/data/query.json?criteria=model::SectionDataSet,rma::criteria,[id$eq{id}],
  rma::include,section_images(alignment2d),alignment3d`` is also answered by the server.
  [inferred: the live service answers both; only the first is recorded.]
- Atlas with its atlas data sets, their AtlasImages (alignment2d) and alignment3d:
  ``model::Atlas,rma::criteria,[id$eq{id}],rma::include,atlas_data_sets(atlas_images(alignment2d),alignment3d)``.
- Structure ontology: ``model::Structure,rma::criteria,[graph_id$eq{g}]`` paged with
  ``rma::options[order$eq'structures.id'][num_rows$eq{n}][start_row$eq{k}]``.
- StructureCenters of one reference space, ReferenceToReferenceTransforms and a data
  set's Equalization: ``model::...`` queries, paged likewise.
- Searches (:mod:`napari_allen_sync.search`): association filters such as
  ``model::SectionDataSet,rma::criteria,genes[acronym$il'calb1'],products[abbreviation$eq'Mouse'],
  plane_of_section[name$eq'coronal'],[failed$eqfalse],rma::include,genes,plane_of_section,products``,
  the ``rma::options[only$eq...]`` field list, and connected services such as
  ``service::mouse_connectivity_injection_structure[injection_structures$eqIsocortex]
  [primary_structure_only$eqtrue][start_row$eq0][num_rows$eq2000]``.

Quoting
-------
String values go in single quotes (double quotes when the text holds a single quote).
Text a user typed never reaches a query unchecked: :func:`quote_value` refuses text that
cannot be quoted, and :func:`like_pattern` turns every character that could end a value
or a condition (``'"[](),$\\``) into the ``*`` wildcard of ``$il`` (the caller then keeps
only exact matches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from .catalog import MODELS, _parse_tree, envelope
from .errors import CatalogFormatError, InvalidIdListError, ServiceError

__all__ = [
    "DATA_SET_INCLUDE",
    "PAGE_SIZE",
    "RmaApi",
    "RmaQuery",
    "ServiceQuery",
    "atlas_criteria",
    "data_set_path",
    "like_pattern",
    "parse_criteria",
    "parse_query",
    "quote_value",
    "records_from_envelope",
    "unquote",
]

#: Rows per page of a paged query (RMA's own default is 50; its maximum is larger).
PAGE_SIZE = 2000
#: What a SectionDataSet needs for synchronization.
DATA_SET_INCLUDE = "section_images(alignment2d),alignment3d"
#: What an Atlas needs: its data sets' plates with their alignments.
ATLAS_INCLUDE = "atlas_data_sets(atlas_images(alignment2d),alignment3d)"
#: Most pages a paged query may take (a guard against a server that never ends).
MAX_PAGES = 200

_SAFE = "$[]:,()'.=_-"


@dataclass
class RmaQuery:
    """A parsed ``criteria=`` RMA query (the subset this package sends and serves).

    Attributes
    ----------
    model : str
        ``"SectionDataSet"``, ``"Atlas"``, ...
    filters : list of (field, operator, value)
        Top-level ``[field$op value]`` conditions (operators ``eq``, ``in`` and ``il``;
        values as written, quotes included).
    include : str or None
        The ``rma::include`` text.
    start_row, num_rows : int or None
        Paging options.
    order : str or None
        The ``order`` option.
    associations : list of (association, field, operator, value)
        Conditions on associated models, ``genes[acronym$il'calb1']``; written before the
        top-level conditions.
    only : tuple of str or None
        The ``only`` option: the fields each row carries.
    all_rows : bool
        ``[num_rows$eqall]``: every row in one answer (``num_rows`` is then None).
    """

    model: str
    filters: list = field(default_factory=list)
    include: str | None = None
    start_row: int | None = None
    num_rows: int | None = None
    order: str | None = None
    associations: list = field(default_factory=list)
    only: tuple | None = None
    all_rows: bool = False

    def to_criteria(self) -> str:
        """The ``criteria=`` text of the query."""
        parts = [f"model::{self.model}"]
        criteria = [f"{a}[{f}${op}{v}]" for a, f, op, v in self.associations]
        if self.filters:
            criteria.append("".join(f"[{f}${op}{v}]" for f, op, v in self.filters))
        if criteria:
            parts.append("rma::criteria," + ",".join(criteria))
        if self.include:
            parts.append(f"rma::include,{self.include}")
        options = ""
        if self.only:
            options += f"[only$eq{','.join(self.only)}]"
        if self.order:
            options += f"[order$eq'{self.order}']"
        if self.num_rows is not None:
            options += f"[num_rows$eq{self.num_rows}]"
        elif self.all_rows:
            options += "[num_rows$eqall]"
        if self.start_row is not None:
            options += f"[start_row$eq{self.start_row}]"
        if options:
            parts.append("rma::options" + options)
        return ",".join(parts)

    def path(self) -> str:
        """The request path ``/api/v2/data/query.json?criteria=...``."""
        return "/api/v2/data/query.json?criteria=" + quote(self.to_criteria(), safe=_SAFE)


@dataclass
class ServiceQuery:
    """A connected-service query, ``service::{name}[param$eq value]...``.

    Attributes
    ----------
    name : str
        The service, e.g. ``"mouse_connectivity_injection_structure"``.
    params : list of (name, operator, value)
        The service's parameters (paging excluded), in order.
    start_row, num_rows : int or None
        Paging, sent as the parameters ``start_row`` and ``num_rows`` (last).
    """

    name: str
    params: list = field(default_factory=list)
    start_row: int | None = None
    num_rows: int | None = None

    def to_criteria(self) -> str:
        """The ``criteria=`` text of the query."""
        text = f"service::{self.name}" + "".join(f"[{p}${op}{v}]" for p, op, v in self.params)
        if self.start_row is not None:
            text += f"[start_row$eq{self.start_row}]"
        if self.num_rows is not None:
            text += f"[num_rows$eq{self.num_rows}]"
        return text

    def path(self) -> str:
        """The request path ``/api/v2/data/query.json?criteria=...``."""
        return "/api/v2/data/query.json?criteria=" + quote(self.to_criteria(), safe=_SAFE)


_STAGE = re.compile(r",(?=rma::)")
_CONDITION = re.compile(r"\[(\w+)\$(eq|in|il)([^\]]*)\]")
_OPERATORS = ("eq", "in", "il")
#: Characters that could end a quoted value, a condition or a criteria item.
_UNSAFE = set("'\"[](),$\\`")


def quote_value(text: str) -> str:
    """``text`` as a quoted RMA string value (``'text'``, or ``"text"`` when it holds a
    single quote).

    Raises
    ------
    InvalidIdListError
        When the text holds a character that no quoting makes safe (``]``, both quotes,
        control characters).
    """
    text = str(text)
    if "]" in text or "[" in text or any(ord(c) < 32 for c in text):
        raise InvalidIdListError(f"cannot put {text!r} into an RMA query (brackets or control "
                                 "characters)")
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise InvalidIdListError(f"cannot put {text!r} into an RMA query (both kinds of quotes)")


def like_pattern(text: str) -> str:
    """A quoted ``$il`` pattern matching ``text`` case-insensitively.

    The user's ``*`` stays a wildcard; every character that could break out of the value
    (quotes, brackets, parentheses, commas, ``$``, backslash, control and non-ASCII
    characters) becomes ``*`` too, so the pattern may match a little more than ``text``:
    the caller keeps the exact matches.

    Examples
    --------
    >>> like_pattern("Calb1")
    "'Calb1'"
    >>> like_pattern("5'-nucleotidase, ecto")
    "'5*-nucleotidase* ecto'"
    >>> like_pattern("x'],[failed$eqtrue")
    "'x*failed*eqtrue'"
    """
    out = []
    for c in str(text).strip():
        c = "*" if (c in _UNSAFE or ord(c) < 32 or not c.isascii()) else c
        if c == "*" and out and out[-1] == "*":
            continue
        out.append(c)
    pattern = "".join(out)
    if not pattern.strip("* "):
        raise InvalidIdListError(f"nothing to search for in {text!r}")
    return f"'{pattern}'"


def unquote(value: str) -> str:
    """A condition's value without its quotes (``'Calb1'`` → ``Calb1``)."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_query(text: str) -> RmaQuery | ServiceQuery:
    """Parse a ``criteria=`` text: a model query or a connected-service query.

    Raises
    ------
    InvalidIdListError
        On anything outside the supported subset.
    """
    text = (text or "").strip()
    if text.startswith("service::"):
        m = re.fullmatch(r"service::(\w+)((?:\[[^\]]*\])*)", text)
        if m is None:
            raise InvalidIdListError(f"unsupported RMA service query {text[:80]!r}")
        query = ServiceQuery(m.group(1))
        for p, op, v in _conditions(m.group(2), "service parameters"):
            if p in ("start_row", "num_rows"):
                if op != "eq":
                    raise InvalidIdListError(f"RMA parameter {p} needs $eq, got ${op}")
                setattr(query, p, _row_number(f"RMA parameter {p}", unquote(v)))
            else:
                query.params.append((p, op, v))
        return query
    return parse_criteria(text)


def _split_items(text: str) -> list[str]:
    """Split criteria text at the commas outside brackets, parentheses and quotes."""
    items, depth, quote_char, start = [], 0, None, 0
    for k, c in enumerate(text):
        if quote_char:
            if c == quote_char:
                quote_char = None
        elif c in "'\"" and depth:
            quote_char = c
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(text[start:k])
            start = k + 1
    items.append(text[start:])
    return items


def parse_criteria(text: str) -> RmaQuery:
    """Parse a ``criteria=`` RMA model query.

    Raises
    ------
    InvalidIdListError
        On anything outside the supported subset (nested criteria, unknown stages), and
        for a ``start_row`` / ``num_rows`` that is not ``all`` (``num_rows`` only) or
        ASCII digits ``0-9`` (at most 18): the message names the value.
    """
    stages = _STAGE.split(text.strip())
    head = stages[0]
    if not head.startswith("model::") or not re.fullmatch(r"model::\w+", head):
        raise InvalidIdListError(f"RMA query must start with model::<Model>, got {head[:60]!r}")
    query = RmaQuery(model=head[len("model::"):])
    for stage in stages[1:]:
        m = re.fullmatch(r"rma::(\w+),?(.*)", stage, re.S)
        if m is None:
            raise InvalidIdListError(f"unsupported RMA stage {stage[:60]!r}")
        name, rest = "rma::" + m.group(1), m.group(2)
        if name == "rma::criteria":
            _add_criteria(query, rest)
        elif name == "rma::include":
            query.include = rest
        elif name == "rma::options":
            _add_options(query, rest)
        else:
            raise InvalidIdListError(f"unsupported RMA stage {stage[:60]!r}")
    return query


def _add_criteria(query: RmaQuery, text: str) -> None:
    """The ``rma::criteria`` stage: ``[field$op value]`` filters, ``assoc[...]``
    association conditions."""
    for item in _split_items(text):
        m = re.fullmatch(r"(\w*)((?:\[.*\])+)", item, re.S)
        if m is None:
            raise InvalidIdListError(f"unsupported RMA criteria {item[:80]!r}")
        conds = _conditions(m.group(2), "criteria")
        if m.group(1):
            query.associations.extend((m.group(1), *c) for c in conds)
        else:
            query.filters.extend(conds)


def _add_options(query: RmaQuery, text: str) -> None:
    """The ``rma::options`` stage: paging, ``order`` and ``only`` (others are ignored)."""
    for f, op, v in _conditions(text, "options"):
        if op != "eq":
            raise InvalidIdListError(f"RMA option {f} needs $eq, got ${op}")
        v = v.strip("'\"")
        if f == "num_rows" and v == "all":
            query.num_rows, query.all_rows = None, True
        elif f in ("num_rows", "start_row"):
            setattr(query, f, _row_number(f"RMA option {f}", v))
        elif f == "order":
            query.order = v
        elif f == "only":
            query.only = tuple(p.strip() for p in v.split(",") if p.strip())


#: A row number or count of the paging options: ASCII digits, at most 18 of them.
_ROW_NUMBER = re.compile(r"[0-9]{1,18}")


def _row_number(what: str, value: str) -> int:
    """``start_row`` / ``num_rows`` as an int: ASCII digits ``0-9`` only (``str.isdigit``
    also accepts ``²``, ``①`` or ``١``, which ``int()`` rejects or reads as digits), at
    most 18 of them; anything else is an :class:`InvalidIdListError` naming the value."""
    if not _ROW_NUMBER.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise InvalidIdListError(f"{what} needs a non-negative integer written with ASCII "
                                 f"digits 0-9 (at most 18), got {shown!r}")
    return int(value)


def _conditions(text: str, what: str):
    stripped = text.replace("],[", "][")
    found = _CONDITION.findall(stripped)
    if "".join(f"[{f}${op}{v}]" for f, op, v in found) != stripped:
        raise InvalidIdListError(f"unsupported RMA {what} {text[:80]!r} (only [field$op value])")
    for f, op, _ in found:
        if op not in _OPERATORS:
            raise InvalidIdListError(f"unsupported RMA operator ${op} on {f}")
    return found


def data_set_path(section_data_set_id: int) -> str:
    """The model-form request path of a SectionDataSet with everything sync needs."""
    return f"/api/v2/data/SectionDataSet/{int(section_data_set_id)}.json?include={DATA_SET_INCLUDE}"


def atlas_criteria(atlas_id: int) -> RmaQuery:
    """The query of an Atlas with its plates and alignments."""
    return RmaQuery("Atlas", [("id", "eq", str(int(atlas_id)))], include=ATLAS_INCLUDE)


def records_from_envelope(data: dict, model: str, where=None) -> list:
    """Parse an RMA envelope's ``msg`` into records (nested records included).

    Parameters
    ----------
    data : dict
        ``{"success": true, "msg": [...]}``.
    model : str
        The Allen model of the rows (a key of :data:`napari_allen_sync.catalog.MODELS`).
    where : str, optional
        The URL or file, for error messages.
    """
    cls = MODELS[model]
    msg = data.get("msg") if isinstance(data, dict) else None
    if isinstance(msg, dict):
        msg = [msg]
    if not isinstance(msg, list):
        raise CatalogFormatError(f"answer msg is not a list of {model} records", path=where)
    out = []
    for item in msg:
        out.extend(_parse_tree(cls, item, where))
    return out


class RmaApi:
    """Fetches the raw RMA answers of the records synchronization needs.

    Parameters
    ----------
    api : napari_allen_sync.client.AllenApi
        The transport (base URI, timeouts, retries).
    page_size : int
        Rows per page of paged queries.
    """

    def __init__(self, api, page_size: int = PAGE_SIZE):
        self.api = api
        self.page_size = int(page_size)

    def section_data_set(self, section_data_set_id: int) -> dict:
        """The envelope of one SectionDataSet with images (alignment2d) and alignment3d.

        Raises
        ------
        ServiceError
            When the answer does not hold exactly that data set.
        """
        url = self.api.url(data_set_path(section_data_set_id))
        data = self.api.get_envelope(url)
        _expect_one(data, section_data_set_id, "SectionDataSet", url)
        return data

    def atlas(self, atlas_id: int) -> dict:
        """The envelope of one Atlas with its atlas data sets, plates and alignments."""
        url = self.api.url(atlas_criteria(atlas_id).path())
        data = self.api.get_envelope(url)
        _expect_one(data, atlas_id, "Atlas", url)
        return data

    def structure_graph(self, graph_id: int = 1) -> dict:
        """Every Structure of an ontology (structure graph 1 is the adult mouse)."""
        return self.paged(RmaQuery("Structure", [("graph_id", "eq", str(int(graph_id)))],
                                   order="structures.id"))

    def structure_centers(self, reference_space_id: int) -> dict:
        """Every StructureCenter of one reference space."""
        return self.paged(
            RmaQuery("StructureCenter",
                     [("reference_space_id", "eq", str(int(reference_space_id)))])
        )

    def reference_transforms(self) -> dict:
        """Every ReferenceToReferenceTransform."""
        return self.paged(RmaQuery("ReferenceToReferenceTransform"))

    def equalization(self, section_data_set_id: int) -> dict:
        """The Equalization of one data set (a list of zero or one)."""
        return self.paged(
            RmaQuery("Equalization", [("section_data_set_id", "eq", str(int(section_data_set_id)))])
        )

    def paged(self, query: RmaQuery | ServiceQuery) -> dict:
        """Fetch every page of a query (model or service); one envelope with every row.

        Raises
        ------
        ServiceError
            When pages disagree on ``total_rows`` or the server pages forever.
        """
        rows: list = []
        total = None
        for _page in range(MAX_PAGES):
            q = replace(query, start_row=len(rows), num_rows=self.page_size)
            if isinstance(q, RmaQuery):
                q.all_rows = False
            url = self.api.url(q.path())
            data = self.api.get_envelope(url)
            msg = data["msg"]
            if not isinstance(msg, list):
                raise ServiceError(f"paged answer msg is not a list: {str(msg)[:120]!r}", url=url)
            t = data.get("total_rows")
            if isinstance(t, int) and not isinstance(t, bool):
                if total is not None and t != total:
                    raise ServiceError(
                        f"total_rows changed between pages ({total} then {t})", url=url
                    )
                total = t
            rows.extend(msg)
            # with total_rows known, a short page is not the end: a server may send fewer
            # rows than asked (its own row cap); without it, a short page is the last
            if not msg or (len(rows) >= total if total is not None
                           else len(msg) < self.page_size):
                break
        else:
            raise ServiceError(f"more than {MAX_PAGES} pages", url=url)
        if total is not None and len(rows) != total:
            raise ServiceError(f"got {len(rows)} rows, total_rows says {total}", url=url)
        return envelope(rows)


def _expect_one(data, wanted_id, model, url):
    msg = data.get("msg")
    if isinstance(msg, dict):
        msg = [msg]
    if not isinstance(msg, list) or len(msg) != 1 or not isinstance(msg[0], dict):
        n = len(msg) if isinstance(msg, list) else "no"
        raise ServiceError(f"expected one {model} record, got {n}", url=url)
    if msg[0].get("id") != int(wanted_id):
        raise ServiceError(f"asked for {model} {wanted_id}, got id {msg[0].get('id')!r}", url=url)
