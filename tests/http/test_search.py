"""Finding experiments without ids, over real HTTP against our own server (the demo and a
catalog folder), in-process against the demo, and finding structures among Allen's real
1327."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from _fault_server import Faults, with_faults
from _http_fixtures import CORONAL, SAGITTAL, catalog_folder, server_process
from napari_allen_sync.cache import AllenCache
from napari_allen_sync.catalog import Catalog
from napari_allen_sync.client import AllenApi
from napari_allen_sync.demo import DemoSource, demo_catalog
from napari_allen_sync.errors import InvalidIdListError, ServiceError
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.rma import RmaApi, RmaQuery, like_pattern, parse_query
from napari_allen_sync.search import (
    DataSetHit,
    ExperimentSearch,
    LocalApi,
    StructureIndex,
    answer_query,
    find_arguments,
    is_search_query,
)
from napari_allen_sync.server import create_app, serve_in_thread

REAL = Path(__file__).parents[1] / "data" / "real"
ONTOLOGY = REAL / "structure_graph_download-1.json"
GRID_69289763 = REAL / "SectionDataSet-69289763-from-grid-download.json"


# demo_served / demo_server: the demo on loopback (support/loopback.py, via conftest.py)


def _search(base, tmp_path, page_size=2000, name="cache"):
    api = AllenApi(base, timeout=(2, 10), retries=0)
    return ExperimentSearch(api, AllenCache(tmp_path / name), page_size=page_size)


def _demo_truth():
    """What the demo's records say, read directly (not through the search)."""
    catalog = demo_catalog()
    out = {}
    for ds in catalog.section_data_sets.values():
        usable = [im for im in catalog.images_of(ds.id) if not im.failed]
        out[ds.id] = (ds.extra.get("gene"), ds.plane, ds.extra.get("product"), len(usable))
    return out


# ---------------------------------------------------------------------- by gene
@pytest.mark.parametrize("gene", ["calb1", "CALB1", "Calb1", "calbindin 1", "CALBINDIN*", "*alb1"])
def test_gene_acronym_or_name_any_case_over_http(demo_server, tmp_path, gene):
    truth = _demo_truth()
    result = _search(demo_server.base, tmp_path).find(gene=gene)
    assert result.message is None
    (hit,) = result.hits
    gene_symbol, plane, product, count = truth[hit.id]
    assert (hit.gene_acronym, hit.plane, hit.section_count) == (gene_symbol, plane, count)
    assert gene_symbol.lower() == "calb1" and product == "Mouse Brain"
    assert hit.products == ("Mouse",) and hit.gene_name == "calbindin 1"
    assert hit.reference_space_id == demo_catalog().section_data_set(hit.id).reference_space_id


def test_every_demo_gene_is_found_with_its_plane_and_product(demo_server, tmp_path):
    search = _search(demo_server.base, tmp_path)
    truth = _demo_truth()
    genes = {v[0]: k for k, v in truth.items() if v[0]}
    assert len(genes) == 3
    for symbol, ds_id in genes.items():
        _, plane, _, count = truth[ds_id]
        (hit,) = search.find(gene=symbol.lower(), plane=plane, product="ish").hits
        assert (hit.id, hit.section_count) == (ds_id, count)
        other = "coronal" if plane == "sagittal" else "sagittal"
        empty = search.find(gene=symbol, plane=other)
        assert empty.hits == () and other in empty.message
        assert search.find(gene=symbol, product="developing").hits == ()


def test_unknown_gene_is_an_empty_result_with_a_message(demo_server, tmp_path):
    result = _search(demo_server.base, tmp_path).find(gene="Nosuchgene1")
    assert result.hits == () and len(result) == 0
    assert "Nosuchgene1" in result.message
    # acronym first, then the name: two queries, both answered empty
    assert [q.split("genes[")[1].split("$")[0] for q in result.queries] == ["acronym", "name"]


@pytest.mark.parametrize("text", ["x'],[failed$eqtrue", "calb1']", "a,b", "'", "]", "((", "é"])
def test_hostile_gene_text_never_breaks_out_of_its_value(demo_server, tmp_path, text):
    result = _search(demo_server.base, tmp_path).find(gene=text)
    assert result.hits == () and result.message
    for q in result.queries:
        parsed = parse_query(q)
        assert parsed.filters == [("failed", "eq", "false")]
        assert [a[0] for a in parsed.associations] == ["genes"]


def test_a_gene_text_too_long_sends_nothing(tmp_path):
    search = ExperimentSearch(AllenApi("http://127.0.0.1:9", retries=0), AllenCache(tmp_path))
    result = search.find(gene="a" * 201)
    assert result.hits == () and "201 characters" in result.message and search.fetched == 0


@given(st.text(min_size=1, max_size=30))
@settings(max_examples=300, deadline=None)
def test_like_pattern_is_one_safe_value_that_matches_its_text(text):
    try:
        pattern = like_pattern(text)
    except InvalidIdListError:  # only when nothing searchable is left
        assert not any(c.isascii() and c.isalnum() for c in text)
        return
    query = RmaQuery("SectionDataSet", [("failed", "eq", "false")],
                     associations=[("genes", "acronym", "il", pattern)])
    parsed = parse_query(query.to_criteria())
    assert parsed == query
    inner = pattern[1:-1]
    assert not set(inner) & set("'\"[](),$\\")
    # the server's $il matching keeps the text itself (the pattern only broadens)
    row = {"id": 1, "acronym": text.strip()}
    assert answer_matches(row, pattern)


def answer_matches(row, pattern):
    from napari_allen_sync.search_answers import _row_matches

    return _row_matches(row, [("acronym", "il", pattern)])


def test_the_gene_query_is_allens(demo_server, tmp_path):
    result = _search(demo_server.base, tmp_path, page_size=7).find(
        gene="calb1", product="ish", plane="coronal")
    assert result.queries[0] == (
        "model::SectionDataSet,rma::criteria,genes[acronym$il'calb1'],"
        "products[abbreviation$eq'Mouse'],plane_of_section[name$eq'coronal'],[failed$eqfalse],"
        "rma::include,genes,plane_of_section,products")
    assert result.queries[-1].startswith("model::SectionImage,rma::criteria,[data_set_id$in")


# ---------------------------------------------------------------------- by injection
def test_connectivity_by_injection_structure_and_its_ancestors(demo_server, tmp_path):
    catalog = demo_catalog()
    conn = [d for d in catalog.section_data_sets.values()
            if d.extra.get("product") == "Mouse Connectivity"]
    assert len(conn) == 1
    search = _search(demo_server.base, tmp_path)
    found = search.find(injection="Isocortex")
    (hit,) = found.hits
    assert hit.id == conn[0].id and hit.injection_structures == ("Isocortex",)
    assert hit.products == ("Mouse Connectivity",) and hit.plane == "coronal"
    assert hit.section_count == len([i for i in catalog.images_of(hit.id) if not i.failed])
    # every structure above the injection site finds it too; the others do not
    isocortex = catalog.structure_by_acronym("Isocortex")
    for s in catalog.structures.values():
        ids = search.find(injection=s.acronym).ids
        assert ids == ([hit.id] if s.id in isocortex.structure_id_path else []), s.acronym
    assert found.queries[0].startswith(
        "service::mouse_connectivity_injection_structure[injection_structures$eqIsocortex]")


def test_unknown_injection_structure_is_empty_with_a_message(demo_server, tmp_path):
    search = _search(demo_server.base, tmp_path)
    for text in ("MOp", "no;such]"):
        result = search.find(injection=text)
        assert result.hits == () and text in result.message
    with pytest.raises(InvalidIdListError):
        search.find(injection="Isocortex", product="ish")
    with pytest.raises(InvalidIdListError):
        search.find(gene="calb1", injection="Isocortex")
    with pytest.raises(InvalidIdListError):
        search.find(gene="calb1", plane="axial")


# ---------------------------------------------------------------------- paging and caching
@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_small_pages_give_the_same_answer(demo_server, tmp_path, page_size):
    whole = _search(demo_server.base, tmp_path, 2000, "a").find(gene="*1")
    before = demo_server.faults.requests
    paged = _search(demo_server.base, tmp_path, page_size, "b")
    result = paged.find(gene="*1")
    assert result == whole and len(result) == 2  # Calb1 and Gad1
    sections = sum(h.section_count for h in result)
    assert demo_server.faults.requests - before == paged.fetched
    # pages until total_rows: the two data sets, then their sections
    assert paged.fetched == -(-2 // page_size) + -(-sections // page_size)


def test_second_search_makes_no_request_and_works_offline(tmp_path):
    faults = Faults()
    with serve_in_thread(with_faults(create_app(DemoSource()), faults)) as base:
        first = _search(base, tmp_path).find(gene="penk")
        requests = faults.requests
        assert requests == 2 and first.ids  # the data sets, their sections
        again = _search(base, tmp_path)  # a new client on the same cache
        assert again.find(gene="penk") == first
        assert again.fetched == 0 and faults.requests == requests
        refreshed = _search(base, tmp_path)
        assert refreshed.find(gene="penk", refresh=True) == first
        assert faults.requests == requests + 2
    offline = _search(base, tmp_path)  # the server is gone
    assert offline.find(gene="penk") == first
    with pytest.raises(ServiceError):
        offline.find(gene="gad1")


def test_malformed_json_raises_and_caches_nothing(demo_server, tmp_path):
    search = _search(demo_server.base, tmp_path)
    demo_server.faults.add("malformed", path_contains="/query.json")
    with pytest.raises(ServiceError):
        search.find(gene="gad1")
    assert not [n for n in search.cache.rma_names() if n.startswith("Search")]
    demo_server.faults.add("failure", path_contains="/query.json")
    with pytest.raises(ServiceError, match="injected failure"):
        search.find(gene="gad1")
    assert search.find(gene="gad1").hits  # and then it works, and is cached
    assert [n for n in search.cache.rma_names() if n.startswith("Search")]


BAD_ROWS = {
    "no id": [{"genes": []}],
    "string id": [{"id": "12"}],
    "genes not a list": [{"id": 1, "genes": "Calb1"}],
    "gene without acronym": [{"id": 1, "genes": [{"name": "calbindin"}]}],
    "product without abbreviation": [{"id": 1, "products": [{"name": "Mouse Brain"}]}],
    "failed not a boolean": [{"id": 1, "failed": "no"}],
    "plane not an object": [{"id": 1, "plane_of_section": "coronal"}],
    "row not an object": [17],
}


@pytest.fixture(scope="module")
def bad_server():
    """A server that answers every search with well-formed envelopes of bad rows."""
    state = {"rows": []}

    def query(request):
        return JSONResponse({"success": True, "id": 0, "start_row": 0,
                             "num_rows": len(state["rows"]), "total_rows": len(state["rows"]),
                             "msg": state["rows"]})

    app = Starlette(routes=[Route("/api/v2/data/query.json", query)])
    with serve_in_thread(app) as base:
        yield base, state


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_malformed_rows_raise_service_error(bad_server, tmp_path, case):
    base, state = bad_server
    state["rows"] = BAD_ROWS[case]
    search = _search(base, tmp_path)
    with pytest.raises(ServiceError) as info:
        search.find(gene="calb1")
    assert info.value.url.startswith(base)
    assert not [n for n in search.cache.rma_names() if n.startswith("Search")]


def test_a_server_that_ignores_filters_is_caught(bad_server, tmp_path):
    base, state = bad_server
    state["rows"] = [
        {"id": 5, "failed": False, "plane_of_section": {"id": 2, "name": "sagittal"},
         "genes": [{"acronym": "Calb1", "name": "calbindin 1"}],
         "products": [{"abbreviation": "Mouse"}]},
        {"id": 6, "failed": False, "genes": [{"acronym": "Calb2", "name": "calbindin 2"}]},
    ]
    search = _search(base, tmp_path)
    assert search.find(gene="calb1", plane="coronal").hits == ()
    state["rows"] = [{"id": 5, "genes": [{"acronym": "Calb1"}]}]
    # the image count answer holds the same bad row: no data_set_id
    with pytest.raises(ServiceError, match="data_set_id"):
        _search(base, tmp_path, name="c2").find(gene="calb1")


# ---------------------------------------------------------------------- demo, offline
def test_in_process_demo_search_equals_the_served_one(demo_server, tmp_path):
    local = ExperimentSearch(LocalApi(demo_catalog()), page_size=3)
    served = _search(demo_server.base, tmp_path)
    for kwargs in ({"gene": "gad1"}, {"gene": "*"+"1", "plane": "coronal"},
                   {"injection": "CH"}, {"gene": "penk", "product": "connectivity"}):
        assert local.find(**kwargs) == served.find(**kwargs), kwargs


def test_for_source_picks_http_or_in_process(demo_server, tmp_path):
    demo = ExperimentSearch.for_source(DemoSource())
    assert isinstance(demo.api, LocalApi) and demo.cache is None
    remote = RemoteSource(demo_server.base, tmp_path / "c", timeout=(2, 10))
    try:
        search = ExperimentSearch.for_source(remote)
        assert search.cache is remote.cache
        assert search.find(gene="calb1") == demo.find(gene="calb1")
        # a search answer is in the cache but adds no record to the catalog
        assert [n for n in remote.cache.rma_names() if n.startswith("Search")]
        assert remote.cache.catalog().section_data_sets == {}
    finally:
        remote.close()


def test_search_answers_do_not_disturb_cached_data_sets(demo_server, tmp_path):
    remote = RemoteSource(demo_server.base, tmp_path / "c", timeout=(2, 10))
    try:
        ds_id = ExperimentSearch.for_source(remote).find(gene="calb1").ids[0]
        ds = remote.ensure_data_set(ds_id)
        assert ds.alignment3d is not None
        again = remote.cache.catalog()
        assert again.section_data_set(ds_id).alignment3d == ds.alignment3d
    finally:
        remote.close()


def test_num_rows_all_answers_every_row():
    catalog = demo_catalog()
    text = ("model::SectionImage,rma::criteria,[failed$eqfalse],"
            "rma::options[only$eqid][num_rows$eqall]")
    data = answer_query(catalog, text)
    usable = [im for im in catalog.section_images.values()
              if type(im).__name__ == "SectionImage" and not im.failed]
    assert data["total_rows"] == data["num_rows"] == len(usable) > 50
    default = answer_query(catalog, text.replace("[num_rows$eqall]", ""))
    assert default["num_rows"] == 50 and default["total_rows"] == len(usable)


def test_server_routes_only_searches_to_the_search():
    assert is_search_query("model::SectionDataSet,rma::criteria,genes[acronym$il'x']")
    assert is_search_query("service::mouse_connectivity_injection_structure[x$eq1]")
    assert is_search_query("model::SectionImage,rma::criteria,[id$eq1],rma::options[only$eqid]")
    assert is_search_query("model::SectionDataSet,rma::criteria,[id$in1,2],rma::include,"
                           "genes,plane_of_section,products")
    assert not is_search_query("model::Atlas,rma::criteria,[id$eq1],rma::include,"
                               "atlas_data_sets(atlas_images(alignment2d),alignment3d)")
    assert not is_search_query("model::Structure,rma::criteria,[graph_id$eq1],"
                               "rma::options[order$eq'structures.id'][num_rows$eq50]")
    with pytest.raises(InvalidIdListError):
        answer_query(demo_catalog(), "service::no_such_service[a$eq1]")
    with pytest.raises(InvalidIdListError):
        answer_query(demo_catalog(), "model::SectionDataSet,rma::criteria,donors[name$eq'x']")


# ---------------------------------------------------------------------- real records
def _grid_record():
    return json.loads(GRID_69289763.read_text())["record"]


def test_real_data_set_69289763_through_a_served_catalog_folder(tmp_path):
    """The real data set (DevMouse and Mouse, no plane in this form) in a catalog folder
    beside the synthetic one, served; the client's parsers read it back over HTTP."""
    folder = catalog_folder(tmp_path / "catalog")
    record = _grid_record()
    (folder / "SectionDataSet-69289763.json").write_text(
        json.dumps({"success": True, "msg": [record]}))
    with serve_in_thread(create_app(folder)) as base:
        remote = RemoteSource(base, tmp_path / "cache", timeout=(2, 10))
        try:
            ds = remote.ensure_data_set(69289763)
            images = remote.catalog.images_of(69289763)
            assert ds.plane_of_section_id is None and ds.plane == "unknown plane"
            assert ds.reference_space_id == 10 and ds.section_thickness == 25.0
            assert len(images) == len(record["section_images"]) == 18
            assert [im.section_number for im in images] == sorted(
                im["section_number"] for im in record["section_images"])
            assert ds.alignment3d.tvr[9] == record["alignment3d"]["tvr_09"]
            point = remote.synchronizer.image_to_reference(images[0].id, 1000.0, 2000.0)
            assert point is not None
        finally:
            remote.close()
        rma = RmaApi(AllenApi(base, timeout=(2, 10)), page_size=1)
        query = parse_query("model::SectionDataSet,rma::criteria,"
                            "products[abbreviation$eq'DevMouse'],[failed$eqfalse],"
                            "rma::include,genes,plane_of_section,products")
        rows = rma.paged(query)["msg"]
        (hit,) = [DataSetHit.from_rma(r) for r in rows]
        assert hit.id == 69289763 and hit.products == ("DevMouse", "Mouse")
        assert hit.plane is None and hit.genes == ()
        search = ExperimentSearch(AllenApi(base, timeout=(2, 10)))
        assert search.find(gene="prox1").hits == ()  # the grid download names no gene


def test_serve_catalog_answers_gene_searches(tmp_path):
    """``serve --catalog DIR`` (a child process): data sets whose records carry Allen's
    ``genes``/``products`` lists are found by gene, with their section counts."""
    folder = catalog_folder(tmp_path / "catalog")
    genes = {CORONAL[0]: ("Calb1", "calbindin 1"), CORONAL[2]: ("Calb2", "calbindin 2"),
             SAGITTAL: ("Calb1", "calbindin 1")}
    for ds_id, (acronym, name) in genes.items():
        path = folder / f"SectionDataSet-{ds_id}.json"
        data = json.loads(path.read_text())
        data["msg"][0]["genes"] = [{"id": ds_id + 5, "acronym": acronym, "name": name}]
        data["msg"][0]["products"] = [{"id": 1, "abbreviation": "Mouse", "name": "Mouse Brain"}]
        path.write_text(json.dumps(data))
    catalog = Catalog.from_folder(folder)
    with server_process(folder) as base:
        search = _search(base, tmp_path, page_size=5)
        found = search.find(gene="calb1")
        assert found.ids == sorted([CORONAL[0], SAGITTAL])
        for hit in found:
            ds = catalog.section_data_set(hit.id)
            assert hit.plane == ds.plane and hit.products == ("Mouse",)
            assert hit.section_count == sum(not im.failed for im in catalog.images_of(hit.id))
            assert hit.genes[0].id == hit.id + 5
        assert search.find(gene="calbindin*", plane="coronal").ids == [CORONAL[0], CORONAL[2]]
        assert search.find(gene="calb1", product="developing").hits == ()
        assert search.find(injection="Isocortex").hits == ()  # no connectivity here


def test_real_ontology_served_and_paged_is_the_file(tmp_path):
    folder = tmp_path / "catalog"
    folder.mkdir()
    shutil.copy(ONTOLOGY, folder / "structure_graph_download-1.json")
    expected = Catalog.from_folder(folder).structures
    assert len(expected) == 1327
    with serve_in_thread(create_app(folder)) as base:
        rma = RmaApi(AllenApi(base, timeout=(2, 10)), page_size=500)
        rows = rma.structure_graph(1)["msg"]
    assert len(rows) == 1327
    got = Catalog.from_folder(_write_answer(tmp_path / "again", "Structure.json", rows))
    assert got.structures == expected


def _write_answer(folder, name, rows):
    folder.mkdir()
    (folder / name).write_text(json.dumps({"success": True, "msg": rows}))
    return folder


# ---------------------------------------------------------------------- structures
@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ontology")
    shutil.copy(ONTOLOGY, folder / ONTOLOGY.name)
    return StructureIndex.from_catalog(Catalog.from_folder(folder))


def test_exact_acronym_first(real_index):
    assert len(real_index) == 1327
    for acronym in ("CA1", "MOp", "SSp-bfd", "root", "VISp", "CB", "P"):
        assert real_index.search(acronym.lower())[0].acronym == acronym
    top = real_index.search("hippocampal formation")[0]
    assert top.acronym == "HPF"


_names = st.sampled_from(sorted({s.name for s in StructureIndex(
    Catalog.parse_file(ONTOLOGY)).structures}))


@given(name=_names, data=st.data())
@settings(max_examples=200, deadline=None)
def test_search_is_complete_sound_and_ranked(real_index, name, data):
    start = data.draw(st.integers(0, max(0, len(name) - 1)))
    stop = data.draw(st.integers(start + 1, len(name)))
    q = name[start:stop]
    if not q.strip():
        return
    found = real_index.search(q, limit=None)
    wanted = q.strip().casefold()
    expected = {s.id for s in real_index.structures
                if wanted in s.acronym.casefold() or wanted in s.name.casefold()}
    assert {s.id for s in found} == expected  # complete and sound
    assert len(found) == len({s.id for s in found})
    exact = [s for s in real_index.structures if s.acronym.casefold() == wanted]
    if exact:
        assert found[0] == exact[0]
    assert real_index.search(q, limit=5) == found[:5]


def test_empty_query_finds_nothing(real_index):
    assert real_index.search("") == [] and real_index.search("   ") == []
    assert real_index.search("no structure has this name") == []


# ---------------------------------------------------------------------- one-line searches
def test_one_line_searches_find_what_the_arguments_find():
    search = ExperimentSearch(LocalApi(demo_catalog()))
    for text, kwargs in [("Calb1, coronal", {"gene": "Calb1", "plane": "coronal"}),
                         ("gad1 sagittal ish", {"gene": "gad1", "plane": "sagittal",
                                                "product": "ish"}),
                         ("glutamate decarboxylase 1", {"gene": "glutamate decarboxylase 1"}),
                         ("inj:CH coronal", {"injection": "CH", "plane": "coronal"})]:
        assert find_arguments(text) == kwargs
        assert search.find(**find_arguments(text)).hits
    assert find_arguments("  ") == {}


@given(gene=st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}( [a-z0-9]{1,6}){0,2}", fullmatch=True),
       plane=st.none() | st.sampled_from(["coronal", "sagittal"]),
       product=st.none() | st.sampled_from(["ish", "developing", "connectivity"]))
def test_one_line_search_words_round_trip(gene, plane, product):
    reserved = {"coronal", "sagittal", "ish", "insitu", "adult", "developing", "devmouse",
                "connectivity"}
    if any(w.lower() in reserved or ":" in w for w in gene.split()):
        return
    text = " ".join(w for w in (gene, plane, product) if w)
    expected = {"gene": gene, **({"plane": plane} if plane else {}),
                **({"product": product} if product else {})}
    assert find_arguments(text) == expected


# ---------------------------------------------------------------------- listings (no gene)
def _demo_listing_truth(plane=None, product=None):
    """The demo's experiments of a plane and product name, read from the records."""
    return sorted(ds_id for ds_id, (_, p, name, _) in _demo_truth().items()
                  if name is not None and name != "Reference Atlas"
                  and (plane is None or p == plane) and (product is None or name == product))


@pytest.mark.parametrize("page_size", [3, 2000])
@pytest.mark.parametrize(("kwargs", "plane", "product"), [
    ({"plane": "coronal"}, "coronal", None),
    ({"plane": "sagittal"}, "sagittal", None),
    ({"product": "ish"}, None, "Mouse Brain"),
    ({"product": "connectivity", "plane": "coronal"}, "coronal", "Mouse Connectivity"),
])
def test_filters_alone_list_every_data_set_over_http(demo_server, tmp_path, page_size, kwargs,
                                                     plane, product):
    """``find coronal``: every data set of the plane/product, paged, with section counts."""
    result = _search(demo_server.base, tmp_path, page_size).find(**kwargs)
    truth = _demo_truth()
    assert result.ids == _demo_listing_truth(plane, product) and result.ids
    assert result.message is None
    for hit in result:
        assert hit.section_count == truth[hit.id][3]
        assert plane is None or hit.plane == plane
    # in-process on the demo: the same answer
    assert ExperimentSearch(LocalApi(demo_catalog()), page_size=page_size).find(**kwargs) \
        == result


def test_one_line_filter_words_alone_list(demo_server, tmp_path):
    served = _search(demo_server.base, tmp_path)
    for text in ("coronal", "ish, sagittal", "  connectivity "):
        result = served.find(**find_arguments(text))
        assert result.ids and result == ExperimentSearch(LocalApi(demo_catalog())).find(
            **find_arguments(text))
    with pytest.raises(InvalidIdListError, match="nothing to search for"):
        served.find(**find_arguments("  "))


def test_a_listing_matching_nothing_is_a_message(demo_server, tmp_path):
    result = _search(demo_server.base, tmp_path).find(plane="sagittal", product="connectivity")
    assert result.hits == () and result.message == (
        "no data set of any gene, product 'Mouse Connectivity', plane sagittal")


def test_a_long_listing_leaves_the_counts_out_and_says_so(demo_server, tmp_path, monkeypatch):
    import napari_allen_sync.search as search_module

    full = _search(demo_server.base, tmp_path, name="a").find(plane="coronal")
    monkeypatch.setattr(search_module, "MAX_COUNTED", len(full) - 1)
    before = demo_server.faults.requests
    short = _search(demo_server.base, tmp_path, name="b").find(plane="coronal")
    assert demo_server.faults.requests - before == 1  # the data sets, no SectionImage query
    assert short.ids == full.ids and {h.section_count for h in short} == {None}
    assert short.message.startswith(f"{len(full)} data sets of any gene, plane coronal")
    assert "add a gene" in short.message


def test_serve_catalog_lists_by_plane(tmp_path):
    """``serve --catalog DIR`` (a child process): a listing by plane alone."""
    folder = catalog_folder(tmp_path / "catalog")
    catalog = Catalog.from_folder(folder)
    with server_process(folder) as base:
        search = _search(base, tmp_path, page_size=2)
        coronal = search.find(plane="coronal")
        assert set(CORONAL) <= set(coronal.ids) and SAGITTAL not in coronal.ids
        for hit in coronal:
            assert hit.section_count == sum(not im.failed for im in catalog.images_of(hit.id))
        assert search.find(plane="sagittal").ids == [SAGITTAL]
