"""``napari-allen-sync find``: the demo offline, our server over real HTTP, and every error
as a message (exit 1), never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from napari_allen_sync.cli import main
from napari_allen_sync.demo import demo_catalog


def _truth(gene):
    catalog = demo_catalog()
    (ds,) = [d for d in catalog.section_data_sets.values() if d.extra.get("gene") == gene]
    usable = [im for im in catalog.images_of(ds.id) if not im.failed]
    return ds, len(usable)


def _run(capsys, *argv):
    code = main(["find", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("gene", ["Calb1", "Gad1", "Penk"])
def test_demo_prints_one_line_per_data_set(capsys, gene):
    ds, count = _truth(gene)
    code, out, err = _run(capsys, "--demo", "--gene", gene.lower())
    assert code == 0 and err == ""
    (line,) = out.splitlines()
    ident, gene_text, plane, product, sections = line.split("\t")
    assert int(ident) == ds.id and gene_text.startswith(f"{gene} (")
    assert plane == ds.plane and product == "Mouse" and sections == f"{count} sections"


def test_json_output(capsys):
    ds, count = _truth("Calb1")
    code, out, _ = _run(capsys, "--demo", "--gene", "CALB1", "--json")
    (item,) = json.loads(out)
    assert code == 0
    assert (item["id"], item["gene_acronym"], item["plane"], item["products"],
            item["section_count"]) == (ds.id, "Calb1", ds.plane, ["Mouse"], count)


def test_nothing_found_is_a_message_not_an_error(capsys):
    code, out, err = _run(capsys, "--demo", "--gene", "Nosuchgene", "--plane", "coronal")
    assert code == 0 and out == ""
    assert "no data set of gene 'Nosuchgene'" in err and "coronal" in err
    code, out, err = _run(capsys, "--demo", "--gene", "nosuch", "--json")
    assert code == 0 and json.loads(out) == [] and "nosuch" in err


def test_injection_over_http_then_from_the_cache(capsys, demo_server, tmp_path):
    base, faults = demo_server.base, demo_server.faults
    argv = ["--source", base, "--cache-dir", str(tmp_path), "--injection", "CTX",
            "--page-size", "2"]
    code, out, err = _run(capsys, *argv)
    (line,) = out.splitlines()
    ident, what, plane, product, _ = line.split("\t")
    assert code == 0 and err == ""
    assert demo_catalog().section_data_set(int(ident)).extra["product"] == "Mouse Connectivity"
    assert what == "injection Isocortex" and plane == "coronal" and product == "Mouse Connectivity"
    seen = faults.requests
    assert _run(capsys, *argv)[:2] == (0, out)
    assert faults.requests == seen  # answered from the cache


def test_errors_exit_1_without_a_traceback(capsys, demo_server, tmp_path):
    base, faults = demo_server.base, demo_server.faults
    code, out, err = _run(capsys, "--source", "http://127.0.0.1:9", "--cache-dir",
                          str(tmp_path), "--gene", "calb1")
    assert code == 1 and out == "" and err.startswith("find: error: cannot reach the service")
    code, _, err = _run(capsys, "--source", "ftp://example.org", "--gene", "calb1")
    assert code == 1 and "http://" in err
    faults.add("malformed", path_contains="/query.json")
    code, out, err = _run(capsys, "--source", base, "--cache-dir", str(tmp_path / "m"),
                          "--gene", "calb1")
    assert code == 1 and out == "" and "not JSON" in err
    code, _, err = _run(capsys, "--demo", "--gene", "calb1", "--page-size", "0")
    assert code == 1 and "page-size" in err
    for text in ("[", "calb1']", "*"):
        code, out, err = _run(capsys, "--demo", "--gene", text)
        assert code == 0 and out == "" and err.startswith("find: no data set")


def test_as_a_process():
    done = subprocess.run(
        [sys.executable, "-m", "napari_allen_sync.cli", "find", "--demo", "--gene", "penk"],
        capture_output=True, text=True, timeout=120)
    ds, _ = _truth("Penk")
    assert done.returncode == 0 and done.stdout.startswith(f"{ds.id}\tPenk")
    assert "Traceback" not in done.stderr


def _listing(plane):
    catalog = demo_catalog()
    return sorted(d.id for d in catalog.section_data_sets.values()
                  if d.plane == plane and d.extra.get("product") not in (None, "Reference Atlas"))


@pytest.mark.parametrize("argv", [["coronal"], ["--plane", "coronal"]])
def test_a_plane_alone_lists_its_data_sets_demo(capsys, argv):
    code, out, err = _run(capsys, "--demo", *argv)
    assert code == 0 and err == ""
    assert [int(line.split("\t")[0]) for line in out.splitlines()] == _listing("coronal")
    assert all(line.split("\t")[2] == "coronal" for line in out.splitlines())


def test_a_plane_alone_over_http(capsys, demo_server, tmp_path):
    base = demo_server.base
    code, out, err = _run(capsys, "--source", base, "--cache-dir", str(tmp_path),
                          "sagittal", "--page-size", "2", "--json")
    assert code == 0 and err == ""
    assert [item["id"] for item in json.loads(out)] == _listing("sagittal")


def test_words_search_like_the_options(capsys):
    assert _run(capsys, "--demo", "calb1", "coronal") == _run(
        capsys, "--demo", "--gene", "calb1", "--plane", "coronal")
    code, out, err = _run(capsys, "--demo", "injection:CTX")
    assert err == ""
    assert code == 0 and "injection Isocortex" in out


@pytest.mark.parametrize(("argv", "message"), [
    ([], "nothing to search for"),
    (["calb1", "--gene", "gad1"], "--gene says 'gad1'"),
    (["coronal", "--plane", "sagittal"], "--plane says 'sagittal'"),
    (["calb1", "--injection", "CTX"], "not both"),
])
def test_no_search_or_contradictions_are_one_line_errors(capsys, argv, message):
    code, out, err = _run(capsys, "--demo", *argv)
    assert code == 1 and out == "" and err.startswith("find: error: ") and message in err
    assert len(err.splitlines()) == 1
