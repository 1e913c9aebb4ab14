"""With no network, a RemoteSource says what is cached, what is missing and how to get
it: in the message of the error a closed port gives (over real HTTP: our own server,
then the same URL with nobody listening), and with ``napari-allen-sync status``."""

from __future__ import annotations

import json
import socket

import pytest

from napari_allen_sync.cli import main
from napari_allen_sync.demo import DEMO_ATLAS_ID, DEMO_TARGET_DATA_SET_IDS, DemoSource, demo_click
from napari_allen_sync.errors import ServiceTimeoutError, ServiceUnavailableError
from napari_allen_sync.remote import RemoteSource
from napari_allen_sync.server import create_app, serve_in_thread
from napari_allen_sync.status import cache_status, describe_cached_name, network_cause

SEED_IMAGE = demo_click()[0]
SEED_DS = DemoSource().catalog.section_image(SEED_IMAGE).data_set_id
TARGETS = sorted(DEMO_TARGET_DATA_SET_IDS)


def closed_port_url() -> str:
    """A loopback URL nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def gone(tmp_path_factory):
    """A cache filled from the demo served on loopback: the seed's data set with two
    tiles, one target without tiles, atlas 1 (ontology), the 100 µm annotation volume;
    then the server stops: its URL is a closed port."""
    cache = tmp_path_factory.mktemp("status-cache")
    with serve_in_thread(create_app(DemoSource())) as base:
        source = RemoteSource(base, cache, annotation_resolution=100)
        source.ensure_section_image(SEED_IMAGE)
        source.ensure_data_set(TARGETS[0])
        source.ensure_atlas(DEMO_ATLAS_ID)
        image = source.catalog.section_image(SEED_IMAGE)
        top = image.tier_count - 1
        source.tiles.tile(image, top, 0, 0)
        source.tiles.tile(source.catalog.images_of(SEED_DS)[0], top, 0, 0)
        source.annotation()
        source.close()
    return base, cache


def _offline(base, cache, **kwargs):
    return RemoteSource(base, cache, timeout=(0.5, 0.5), retries=0, **kwargs)


def test_a_closed_port_says_what_is_cached_and_missing(gone):
    base, cache = gone
    source = _offline(base, cache)  # wants the 25 µm volume, only 100 µm is cached
    with pytest.raises(ServiceUnavailableError) as info:
        source.ensure_data_set(TARGETS[1])
    err = info.value
    text = str(err)
    assert text.startswith(f"{base} does not answer (the connection was refused")
    assert (
        f"Needed now: the metadata of SectionDataSet {TARGETS[1]}, which is not in "
        "the cache." in text
    )
    assert f"Cached in {cache}:" in text
    assert f"data set {SEED_DS}: 63 images, tiles of 2 (2 tiles)" in text
    assert f"data set {TARGETS[0]}: " in text and "no image tiles" in text
    assert "atlas 1: " in text
    structures = len(DemoSource().catalog.structures)
    assert f"the ontology ({structures} structures: structure names)" in text
    assert "Missing:" in text
    assert (
        "the annotation volume at 25 µm (the structure at a point; cached at 100 µm: "
        "choose it in Preferences"
    ) in text
    assert f"image tiles of data set {TARGETS[0]} (its pictures)" in text
    ids = " ".join(map(str, [TARGETS[1], SEED_DS, TARGETS[0]]))
    assert (
        f"napari-allen-sync prefetch --data-set {ids} --atlas 1 --tiers 4 5 "
        f"--base-uri {base}" in text
    )
    assert f"napari-allen-sync bundle import allen.zip --cache-dir {cache}" in text
    assert err.offline_report in text and err.url and err.url.startswith(base)
    # nothing was cached by the failure, and what was cached still works
    assert TARGETS[1] not in source.catalog.section_data_sets
    assert source.ensure_data_set(SEED_DS).id == SEED_DS


def test_an_unreachable_annotation_download_says_so_too(gone):
    base, cache = gone
    source = _offline(base, cache, annotation_resolution=50)
    with pytest.raises(ServiceUnavailableError) as info:
        source.annotation()
    text = str(info.value)
    assert "Needed now: the annotation volume at 50 µm" in text
    assert "cached at 100 µm" in text
    assert source.annotation_problem is info.value
    # a click still synchronizes, with no structure, and the problem says why
    assert source.structure_at(9, [6500.0], [4000.0], [5700.0]) == [None]
    assert "bundle import" in str(source.annotation_problem)
    # the volume that is cached answers offline
    cached = _offline(base, cache, annotation_resolution=100)
    assert cached.structure_ids_at(9, [6500.0], [4000.0], [5700.0]).shape == (1,)
    assert "the annotation volume at 100 µm" in "\n".join(cached.cache_status().cached())


def test_the_dock_shows_the_report_as_it_is(gone):
    """The dock turns errors into notifications with runner.user_message: the report
    reaches the user unchanged (no raw HTTP-library text for it to rewrite)."""
    from napari_allen_sync._napari.runner import user_message

    base, cache = gone
    with pytest.raises(ServiceUnavailableError) as info:
        _offline(base, cache).ensure_section_image(10**9)
    assert "Needed now: the metadata of SectionImage 1000000000" in str(info.value)
    assert user_message(info.value) == str(info.value)


def test_an_empty_cache_says_nothing_is_there(tmp_path):
    url = closed_port_url()
    source = _offline(url, tmp_path / "empty")
    with pytest.raises(ServiceUnavailableError) as info:
        source.ensure_atlas(1)
    text = str(info.value)
    assert "Needed now: the metadata of atlas 1" in text
    assert f"Nothing for {url} is cached in {tmp_path / 'empty'}." in text
    for item in (
        "any data set",
        "any atlas",
        "the ontology (structure names)",
        "the annotation volume at 25 µm",
    ):
        assert item in text
    assert cache_status(source).empty


def test_status_command_prints_the_report(gone, capsys):
    base, cache = gone
    assert main(["status", "--source", base, "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{base}: offline from cache\n")
    assert f"data set {SEED_DS}: 63 images, tiles of 2 (2 tiles)" in out
    assert "the annotation volume at 25 µm" in out and "Missing:" in out
    assert f"napari-allen-sync status --source {base} --cache-dir {cache}" in out
    assert (
        main(
            [
                "status",
                "--source",
                base,
                "--cache-dir",
                str(cache),
                "--offline",
                "--annotation-resolution",
                "100",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["state"] is None and data["annotation_cached"] is True
    assert data["structures"] == len(DemoSource().catalog.structures)
    assert [d["id"] for d in data["data_sets"]] == sorted([SEED_DS, TARGETS[0]])
    assert not any("annotation volume" in m for m in data["missing"])


def test_status_command_refuses_a_bad_source(capsys, tmp_path):
    assert main(["status", "--source", "ftp://example.org", "--cache-dir", str(tmp_path)]) == 2
    assert "must begin with http:// or https://" in capsys.readouterr().err


def test_causes_and_names_in_words():
    assert network_cause(ServiceTimeoutError("x")) == "it did not answer in time"
    assert "host name" in network_cause(
        ServiceUnavailableError("cannot reach (Name or service not known)")
    )
    assert (
        describe_cached_name("StructureCenter-space-9")
        == "the StructureCenters of reference space 9"
    )
    assert describe_cached_name("Something-else") == "Something-else"
