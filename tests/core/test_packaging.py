"""The distribution a napari-hub user installs: sdist and wheel contents, metadata, the
npe2 manifest, declared dependencies against what each layer imports, the README as the
hub renders it.

Builds the sdist and, from it, the wheel (as ``python -m build`` does), installs the
wheel into a fresh virtual environment and runs ``npe2 validate napari-allen-sync``
there, as the napari hub does.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "napari_allen_sync"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """The sdist and the wheel built from it: ``{"sdist": path, "wheel": path}``."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (sdist,) = out.glob("napari_allen_sync-*.tar.gz")
    (wheel,) = out.glob("napari_allen_sync-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def wheel(dists):
    return dists["wheel"]


@pytest.fixture(scope="module")
def sdist_names(dists):
    with tarfile.open(dists["sdist"]) as tf:
        names = tf.getnames()
    (_top,) = {n.split("/", 1)[0] for n in names}
    return {n.split("/", 1)[1] for n in names if "/" in n}


def test_wheel_carries_the_manifest_inside_the_package(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "napari_allen_sync/napari.yaml" in names
        assert zf.read("napari_allen_sync/napari.yaml") == (ROOT / "napari.yaml").read_bytes()
        (ep,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = zf.read(ep).decode()
    assert "[napari.manifest]" in entry_points
    assert "napari-allen-sync = napari_allen_sync:napari.yaml" in entry_points
    assert "napari-allen-sync = napari_allen_sync.cli:main" in entry_points


def test_wheel_carries_every_module_and_no_tests(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    modules = {
        f"napari_allen_sync/{p.relative_to(PACKAGE).as_posix()}" for p in PACKAGE.rglob("*.py")
    }
    assert modules <= names, sorted(modules - names)
    # the manifest's python_names point into the wheel
    manifest = (ROOT / "napari.yaml").read_text(encoding="utf-8")
    for module in re.findall(r"python_name:\s*([\w.]+):", manifest):
        assert f"{module.replace('.', '/')}.py" in names, module
    assert not [n for n in names if n.startswith("tests/")]


def test_sdist_has_what_make_test_needs(sdist_names):
    # the Makefile's own scripts, the manifest, the docs, the tests and their data
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    scripts = set(re.findall(r"\btools/[\w.-]+", makefile))
    assert "tools/display-deps.sh" in scripts
    need = {
        "Makefile",
        "pyproject.toml",
        "napari.yaml",
        "README.md",
        "LICENSE",
        "tests/conftest.py",
        "tests/data/ground-truth.json",
        *scripts,
    }
    assert need <= sdist_names, sorted(need - sdist_names)
    for folder in ("src", "tests", "tools", "docs"):
        on_disk = {
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert on_disk <= sdist_names, sorted(on_disk - sdist_names)[:20]
    # the documentation the modules link to
    for doc in ("docs/index.md", "docs/arithmetic.md", "docs/wire-format.md"):
        assert doc in sdist_names


def test_metadata_fits_the_napari_hub(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(zf.read(name).decode())
    assert meta["Name"] == "napari-allen-sync"
    assert "Framework :: napari" in meta.get_all("Classifier")
    assert meta["License-Expression"] == "BSD-3-Clause" or meta["License"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "make test" in meta.get_payload()
    assert len(meta.get_all("Project-URL")) >= 3
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    base = {canonicalize_name(r.name) for r in reqs if r.marker is None}
    heavy = {
        "pyqt5",
        "pyqt6",
        "pyside2",
        "pyside6",
        "napari",
        "scipy",
        "uvicorn",
        "starlette",
        "qtpy",
        "superqt",
    }
    assert not base & heavy, base & heavy
    extra_all = [r for r in reqs if r.marker is not None and r.marker.evaluate({"extra": "all"})]
    assert any(r.name == "napari" and "pyqt6" in r.extras for r in extra_all), extra_all
    extra_server = {
        r.name for r in reqs if r.marker is not None and r.marker.evaluate({"extra": "server"})
    }
    assert {"uvicorn", "starlette"} <= extra_server
    # the test tools are a dependency group, not a published extra
    assert "testing" not in (meta.get_all("Provides-Extra") or [])
    assert not [r for r in reqs if r.name in ("pytest", "hypothesis", "scipy")]


def test_npe2_validate_in_a_fresh_environment(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, capture_output=True, timeout=300)
    subprocess.run([*pip, "npe2"], check=True, capture_output=True, timeout=600)
    proc = subprocess.run(
        [str(env_dir / "bin" / "npe2"), "validate", "napari-allen-sync"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid" in (proc.stdout + proc.stderr).lower()


def test_manifest_validates_with_its_imports():
    """Every python_name of the manifest imports (the writers, samples, widgets)."""
    npe2 = Path(sys.executable).with_name("npe2")
    proc = subprocess.run(
        [str(npe2), "validate", "--imports", str(ROOT / "napari.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ dependencies

#: Import names whose distribution is named differently (checked against the
#: installed distributions too, see _distribution).
_DIST_OF_IMPORT = {"PIL": "pillow", "yaml": "pyyaml", "pytestqt": "pytest-qt"}


def _layer(rel: str) -> str:
    """Which install a module of the package needs: the core, an extra, or the dev group."""
    if rel.startswith("_napari/") or rel in ("commands/demo.py", "screenshots.py"):
        return "all"
    if rel.startswith("server") or rel == "commands/serve.py":
        return "server"
    if rel.startswith("bench/"):
        return "dev"
    return "core"


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports of a file (function-level ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@functools.cache
def _installed() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distribution(name: str) -> str:
    if name in _DIST_OF_IMPORT:
        return _DIST_OF_IMPORT[name]
    found = _installed().get(name)
    assert found, f"{name!r} is imported but no installed distribution provides it"
    return canonicalize_name(found[0])


def _declared() -> dict[str, set[str]]:
    """Distribution names each install declares (the core is included in every other)."""
    project = PYPROJECT["project"]

    def names(reqs):
        return {canonicalize_name(Requirement(r).name) for r in reqs}

    extras = project["optional-dependencies"]
    core = names(project["dependencies"])
    server = core | names(extras["server"])
    everything = core | names(extras["all"])
    if "napari-allen-sync" in everything:  # napari-allen-sync[server]
        everything |= server
    dev = everything | server | names(PYPROJECT["dependency-groups"]["dev"])
    return {"core": core, "server": server, "all": everything, "dev": dev}


def _third_party(names: set[str]) -> set[str]:
    return {
        n
        for n in names
        if n not in sys.stdlib_module_names and n not in ("napari_allen_sync", "__future__")
    }


def test_declared_dependencies_cover_what_each_layer_imports():
    declared = _declared()
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        layer = _layer(rel)
        for name in sorted(_third_party(_imports(path))):
            dist = _distribution(name)
            if dist not in declared[layer]:
                missing.append(f"{rel} ({layer}) imports {name} ({dist})")
    assert not missing, "undeclared imports:\n" + "\n".join(missing)


def test_tests_import_only_declared_packages():
    declared = _declared()["dev"]
    local = {p.stem for p in (ROOT / "tests").rglob("*.py")}  # support/ helpers too
    missing = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name in sorted(_third_party(_imports(path)) - local):
            if name in ("pytest", "_pytest"):
                continue
            dist = _distribution(name)
            if dist not in declared:
                missing.append(f"{path.relative_to(ROOT)} imports {name} ({dist})")
    assert not missing, "undeclared imports:\n" + "\n".join(missing)


def test_the_core_declares_no_heavy_or_gui_package():
    # psygnal is allowed: the Qt-free session model is an evented dataclass (pure Python,
    # no Qt); magicgui, superqt and qtpy are Qt widgets and stay in the `all` extra
    core = _declared()["core"]
    assert "psygnal" in core
    assert not core & {
        "scipy",
        "napari",
        "qtpy",
        "superqt",
        "magicgui",
        "uvicorn",
        "starlette",
        "pyqt6",
        "pyside6",
    }


def _run_blocked(blocked: tuple[str, ...], argv: list[str]):
    """Run the CLI with ``blocked`` modules impossible to import (as if not installed)."""
    code = (
        "import sys\n"
        f"for m in {blocked!r}: sys.modules[m] = None\n"
        "from napari_allen_sync.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_serve_without_the_server_extra_says_how_to_install_it():
    proc = _run_blocked(("uvicorn", "starlette"), ["serve", "--demo", "--port", "0"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert 'pip install "napari-allen-sync[server]"' in proc.stderr


def test_demo_without_napari_says_how_to_install_it():
    proc = _run_blocked(("napari",), ["demo"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert 'pip install "napari-allen-sync[all]"' in proc.stderr


def test_numpy_erosion_equals_scipy():
    """The demo's structure centres use a NumPy erosion in place of scipy's (scipy is a
    test-only dependency now): the same answer on random masks and on edge cases."""
    ndimage = pytest.importorskip("scipy.ndimage")
    import numpy as np

    from napari_allen_sync.demo.centers import binary_erosion

    rng = np.random.default_rng(13)
    masks = [rng.random((9, 7, 8)) < p for p in (0.5, 0.8, 0.95, 1.0)]
    masks += [np.ones((3, 3, 3), bool), np.zeros((4, 4, 4), bool), np.ones((1, 5, 5), bool)]
    for mask in masks:
        np.testing.assert_array_equal(binary_erosion(mask), ndimage.binary_erosion(mask))


# ------------------------------------------------------------------ README for the hub


def test_readme_images_are_absolute_urls_of_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    source = PYPROJECT["project"]["urls"]["Source Code"]
    owner_repo = source.removeprefix("https://github.com/").strip("/")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme) + re.findall(
        r"<img[^>]+src=\"([^\"]+)\"", readme
    )
    assert images
    prefix = f"https://raw.githubusercontent.com/{owner_repo}/main/"
    for url in images:
        assert url.startswith(prefix), url
        path = ROOT / url.removeprefix(prefix)
        assert path.is_file(), f"{url} names no file of the repository"


def test_readme_shows_a_picture_and_pip_install_before_make():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    picture = readme.index("![")
    pip = readme.index("pip install")
    make = readme.index("make test")
    assert picture < make and pip < make
    assert "make demo" in readme


def test_readme_and_docs_link_to_files_that_exist():
    texts = {ROOT / "README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    texts |= {p: p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md")}
    broken = []
    for path, text in texts.items():
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in link:
                continue
            target = (path.parent / link).resolve()
            if not target.exists():
                broken.append(f"{path.relative_to(ROOT)} → {link}")
    assert not broken, broken


def test_modules_cite_the_docs_not_an_absent_spec():
    cited = []
    for path in PACKAGE.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "SPEC.md" in line:
                cited.append(f"{path.relative_to(ROOT)}:{n}")
    assert not cited, cited
