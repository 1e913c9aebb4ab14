"""RMA queries: the text the client sends parses back to the same query, paging
collects every row, and answers parse into the catalog's records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _http_fixtures import (
    ATLAS_ID,
    CORONAL,
)
from napari_allen_sync.client import AllenApi
from napari_allen_sync.errors import InvalidIdListError, ServiceError
from napari_allen_sync.rma import (
    RmaApi,
    RmaQuery,
    ServiceQuery,
    parse_criteria,
    parse_query,
    quote_value,
    records_from_envelope,
)

names = st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True)
values = st.from_regex(r"[0-9a-z]{1,10}", fullmatch=True)


@given(
    model=st.from_regex(r"[A-Z][A-Za-z]{0,20}", fullmatch=True),
    filters=st.lists(st.tuples(names, st.sampled_from(["eq", "in"]), values), max_size=3),
    include=st.none() | st.sampled_from(["section_images(alignment2d),alignment3d",
                                         "atlas_data_sets(atlas_images(alignment2d),alignment3d)"]),
    start=st.none() | st.integers(0, 10**6),
    rows=st.none() | st.integers(1, 10**4),
    order=st.none() | st.sampled_from(["structures.id", "id"]),
)
def test_queries_round_trip(model, filters, include, start, rows, order):
    q = RmaQuery(model, filters, include, start, rows, order)
    assert parse_criteria(q.to_criteria()) == q


@pytest.mark.parametrize("text", [
    "Atlas",
    "model::Atlas,rma::criteria,atlas_data_set(atlases[id$eq1])",
    "model::Atlas,rma::criteria,[id$gt1]",
    "model::Atlas,rma::options[num_rows$eqmany]",
    "model::Atlas,rma::explode,1",
])
def test_unsupported_queries_are_refused(text):
    with pytest.raises(InvalidIdListError):
        parse_criteria(text)


@pytest.mark.parametrize("page_size", [1, 3, 50])
def test_paging_collects_every_row(server, page_size):
    rma = RmaApi(AllenApi(server.base, timeout=(2, 10)), page_size=page_size)
    rows = rma.structure_graph(1)["msg"]
    assert sorted(r["id"] for r in rows) == sorted(server.catalog.structures)
    centers = rma.structure_centers(10)["msg"]
    assert len(centers) == 4


def test_answers_parse_into_records(server):
    rma = RmaApi(AllenApi(server.base, timeout=(2, 10)))
    records = records_from_envelope(rma.section_data_set(CORONAL[0]), "SectionDataSet")
    assert records[0] == server.catalog.section_data_set(CORONAL[0])
    assert tuple(records[1:]) == server.catalog.images_of(CORONAL[0])
    atlas = records_from_envelope(rma.atlas(ATLAS_ID), "Atlas")
    assert atlas[0] == server.catalog.atlas(ATLAS_ID)
    with pytest.raises(ServiceError, match="expected one Atlas record, got 0"):
        rma.atlas(99)


# ---------------------------------------------------------------------- the search subset
quoted = st.from_regex(r"'[0-9A-Za-z *_.-]{1,12}'", fullmatch=True)


@given(
    filters=st.lists(st.tuples(names, st.sampled_from(["eq", "in", "il"]), values | quoted),
                     max_size=3),
    associations=st.lists(st.tuples(st.sampled_from(["genes", "products", "plane_of_section"]),
                                    names, st.sampled_from(["eq", "il"]), quoted), max_size=3),
    include=st.none() | st.just("genes,plane_of_section,products"),
    only=st.none() | st.lists(names, min_size=1, max_size=3).map(tuple),
    start=st.none() | st.integers(0, 10**6),
    rows=st.none() | st.integers(1, 10**4) | st.just("all"),
)
def test_search_queries_round_trip(filters, associations, include, only, start, rows):
    every = rows == "all"
    rows = None if every else rows
    q = RmaQuery("SectionDataSet", filters, include, start, rows, None, associations, only,
                 every)
    assert parse_query(q.to_criteria()) == q
    assert parse_criteria(q.to_criteria()) == q


@given(
    params=st.lists(st.tuples(names.filter(lambda n: n not in ("start_row", "num_rows")),
                              st.just("eq"), values), max_size=4),
    start=st.none() | st.integers(0, 10**6),
    rows=st.none() | st.integers(1, 10**4),
)
def test_service_queries_round_trip(params, start, rows):
    q = ServiceQuery("mouse_connectivity_injection_structure", params, start, rows)
    assert parse_query(q.to_criteria()) == q


@pytest.mark.parametrize("text", [
    "service::x[a$eq1",
    "service::x[start_row$eqmany]",
    "service::x(a)",
    "model::SectionDataSet,rma::criteria,genes(acronym$eq'x')",
    "model::SectionDataSet,rma::criteria,genes[acronym$gt'x']",
])
def test_unsupported_search_queries_are_refused(text):
    with pytest.raises(InvalidIdListError):
        parse_query(text)


def test_quote_value_refuses_what_cannot_be_quoted():
    assert quote_value("Mouse") == "'Mouse'"
    assert quote_value("5'-nucleotidase") == "\"5'-nucleotidase\""
    for bad in ("a]b", "a[b", "'\"", "tab\there"):
        with pytest.raises(InvalidIdListError):
            quote_value(bad)


@pytest.mark.parametrize("page_size", [1, 4])
def test_paging_keeps_every_part_of_a_search_query(server, page_size):
    """Paging a query with associations, include and only sends them on every page."""
    rma = RmaApi(AllenApi(server.base, timeout=(2, 10)), page_size=page_size)
    query = RmaQuery("SectionImage", [("data_set_id", "in", f"{CORONAL[0]},{CORONAL[1]}"),
                                      ("failed", "eq", "false")], only=("id", "data_set_id"))
    rows = rma.paged(query)["msg"]
    expected = [im for d in CORONAL[:2] for im in server.catalog.images_of(d) if not im.failed]
    assert sorted(r["id"] for r in rows) == sorted(im.id for im in expected)
    assert all(set(r) == {"id", "data_set_id"} for r in rows)


# ---------------------------------------------------------------------- paging options
_ASCII_ROWS = __import__("re").compile(r"[0-9]{1,18}")


@given(option=st.sampled_from(["num_rows", "start_row"]),
       value=st.text(st.characters(blacklist_characters="[]'\""), max_size=24)
       | st.text("0123456789²³①٠١٩０９𝟗 _+-", min_size=1, max_size=24)
       | st.from_regex(r"[0-9]{1,25}", fullmatch=True))
def test_paging_options_are_ascii_digits_or_refused_naming_the_value(option, value):
    """``[num_rows$eqV]`` / ``[start_row$eqV]`` for any text V: ASCII digits (at most 18)
    are read as that integer; anything else (Unicode digits that ``str.isdigit`` accepts,
    signs, blanks, underscores, 19 digits or more) is the package's own error naming V,
    never a raw ValueError."""
    text = f"model::Atlas,rma::options[{option}$eq{value}]"
    try:
        query = parse_criteria(text)
    except InvalidIdListError as exc:
        assert not _ASCII_ROWS.fullmatch(value)
        if value != "all" and "$" not in value and value.isprintable():
            assert repr(value[:40])[1:-1] in str(exc)
    else:
        if option == "num_rows" and value == "all":
            assert query.all_rows and query.num_rows is None
        else:
            assert _ASCII_ROWS.fullmatch(value)
            assert getattr(query, option) == int(value)
    # the service-query form reads its paging parameters the same way
    try:
        service = parse_query(f"service::mouse_correlation[{option}$eq{value}]")
    except InvalidIdListError:
        assert not _ASCII_ROWS.fullmatch(value)
    else:
        assert getattr(service, option) == int(value)


@pytest.mark.parametrize("value", ["²", "①", "١٢", "１０", "1_000", "𝟗", "1" * 19, "1" * 5000])
def test_foreign_digits_in_paging_options_are_refused_naming_them(value):
    with pytest.raises(InvalidIdListError, match="ASCII digits") as info:
        parse_criteria(f"model::Atlas,rma::options[num_rows$eq{value}]")
    assert value[:40] in str(info.value)
