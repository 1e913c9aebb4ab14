"""RMA paging over real HTTP: ``[num_rows$eqall]`` answers every row (up to the server's
documented row cap, ``MAX_RMA_ROWS``), the envelope counts what was sent (``num_rows``)
and what matched (``total_rows``), and a client pages through a capped server."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _http_fixtures import synthetic_catalog
from napari_allen_sync.client import AllenApi
from napari_allen_sync.rma import RmaApi, RmaQuery
from napari_allen_sync.server import MAX_RMA_ROWS, create_app, serve_in_thread
from napari_allen_sync.server import app as app_module
from napari_allen_sync.server import service as service_module


def query(base, criteria):
    r = requests.get(f"{base}/api/v2/data/query.json?criteria={quote(criteria)}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def section_image_ids(catalog):
    return sorted(im.id for im in catalog.section_images.values()
                  if type(im).__name__ == "SectionImage")


def test_all_rows_answers_every_row(server):
    ids = section_image_ids(server.catalog)
    assert len(ids) > service_module.RMA_DEFAULT_ROWS  # else "all" could not be told apart
    data = query(server.base, "model::SectionImage,rma::options[num_rows$eqall]")
    assert sorted(r["id"] for r in data["msg"]) == ids
    assert data["num_rows"] == data["total_rows"] == len(ids)
    assert data["start_row"] == 0
    # without num_rows: RMA's default page of 50, total_rows counting all
    data = query(server.base, "model::SectionImage")
    assert data["num_rows"] == len(data["msg"]) == service_module.RMA_DEFAULT_ROWS
    assert data["total_rows"] == len(ids)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 400))
def test_all_rows_from_a_start_row(server, start):
    ids = section_image_ids(server.catalog)
    every = query(server.base, "model::SectionImage,rma::options[num_rows$eqall]")["msg"]
    data = query(server.base,
                 f"model::SectionImage,rma::options[num_rows$eqall][start_row$eq{start}]")
    assert data["msg"] == every[start:]
    assert data["num_rows"] == len(every[start:]) and data["total_rows"] == len(ids)
    assert data["start_row"] == start


@pytest.fixture
def capped(monkeypatch):
    """The synthetic catalog served with a row cap of 40."""
    monkeypatch.setattr(service_module, "MAX_RMA_ROWS", 40)
    monkeypatch.setattr(app_module, "MAX_RMA_ROWS", 40)
    catalog = synthetic_catalog()
    with serve_in_thread(create_app(catalog)) as base:
        yield base, catalog


@pytest.mark.parametrize("options", ["[num_rows$eqall]", "[num_rows$eq1000]",
                                     "[num_rows$eqall][start_row$eq7]"])
def test_the_row_cap_is_stated_in_the_envelope(capped, options):
    base, catalog = capped
    ids = section_image_ids(catalog)
    data = query(base, f"model::SectionImage,rma::options{options}")
    assert len(data["msg"]) == data["num_rows"] == 40
    assert data["total_rows"] == len(ids) > 40


def test_search_answers_are_capped_too(capped):
    base, catalog = capped
    data = query(base, "model::SectionImage,rma::options[only$eqid][num_rows$eqall]")
    assert len(data["msg"]) == data["num_rows"] == 40
    assert data["total_rows"] == len(section_image_ids(catalog))


@pytest.mark.parametrize("page_size", [25, 40, 500])
def test_a_client_pages_through_a_capped_server(capped, page_size):
    """RmaApi.paged collects every row whether its pages are smaller than, equal to or
    larger than the server's cap (a short page is not the end while total_rows says
    more rows are left)."""
    base, catalog = capped
    rma = RmaApi(AllenApi(base, timeout=(2, 10)), page_size=page_size)
    rows = rma.paged(RmaQuery("SectionImage", all_rows=True))["msg"]
    assert sorted(r["id"] for r in rows) == section_image_ids(catalog)
    assert len(rows) == len(section_image_ids(catalog))


def test_the_cap_is_exported_and_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "server.md").read_text()
    assert f"at most **{MAX_RMA_ROWS:,}** rows" in doc
