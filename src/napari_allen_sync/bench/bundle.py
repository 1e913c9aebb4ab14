"""Peak memory of ``bundle import``: a large legal bundle, and crafted ones it refuses.

Each import runs in a fresh process that reports its own peak resident set size
(``ru_maxrss``); ``baseline`` is the same process importing nothing. Figures in MiB.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

_CHILD = """
import json, resource, sys
from napari_allen_sync.bundle import BundleError, import_bundle
from napari_allen_sync.cache import AllenCache
outcome = "none"
if sys.argv[1] != "-":
    try:
        import_bundle(sys.argv[1], cache=AllenCache(sys.argv[2]))
        outcome = "imported"
    except BundleError as exc:
        outcome = "refused: " + str(exc).split(": ", 1)[-1][:80]
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "outcome": outcome}))
"""

#: Sizes of the crafted bundles.
TILES = 1500
HUGE = 1024 * 1024 * 1024


def _jpeg_noise(seed):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)).save(
        buf, "JPEG", quality=95)
    return buf.getvalue()


def _manifest(files):
    return {"format": "napari-allen-sync-bundle", "version": 1, "files": files}


def _write_zeros(zf, name, size, compress=zipfile.ZIP_DEFLATED):
    info = zipfile.ZipInfo(name)
    info.compress_type = compress
    block = b"\0" * (1 << 20)
    with zf.open(info, "w", force_zip64=True) as f:
        for _ in range(size // len(block)):
            f.write(block)


def _large_legal(path):
    tiles = [_jpeg_noise(k) for k in range(8)]
    files = {}
    with zipfile.ZipFile(path, "w") as zf:
        for k in range(TILES):
            name = f"tiles/{1000 + k // 100}/d0/s512/{k % 100}_0.jpg"
            data = tiles[k % len(tiles)]
            zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)
            files[name] = hashlib.sha256(data).hexdigest()
        zf.writestr("bundle.json", json.dumps(_manifest(files)))


def _huge_manifest(path):
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("bundle.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        head = json.dumps(_manifest({}))[:-1].encode()
        with zf.open(info, "w", force_zip64=True) as f:
            f.write(head)
            pad = b" " * (1 << 20)
            for _ in range(HUGE // len(pad)):
                f.write(pad)
            f.write(b"}")


def _huge_member(path):
    name = "tiles/1/d0/s512/0_0.jpg"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bundle.json", json.dumps(_manifest({name: "0" * 64})))
        _write_zeros(zf, name, HUGE)


def _measure(bundle, cache):
    out = subprocess.run([sys.executable, "-c", _CHILD, str(bundle), str(cache)],
                         capture_output=True, text=True, timeout=900, check=True)
    return json.loads(out.stdout)


def run() -> dict:
    """Peak RSS (MiB) of importing each crafted bundle, and the bundle sizes."""
    work = Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    try:
        result = {"baseline": _measure("-", work / "c0")}
        for label, make in (("large_legal", _large_legal),
                            ("manifest_1GiB", _huge_manifest),
                            ("member_1GiB", _huge_member)):
            path = work / f"{label}.zip"
            make(path)
            with zipfile.ZipFile(path) as zf:
                unpacked = sum(i.file_size for i in zf.infolist())
            got = _measure(path, work / f"cache-{label}")
            got["bundle_mib"] = round(path.stat().st_size / 2**20, 1)
            got["unpacked_mib"] = round(unpacked / 2**20, 1)
            got["above_baseline_mib"] = round(got["peak_mib"] - result["baseline"]["peak_mib"], 1)
            got["peak_mib"] = round(got["peak_mib"], 1)
            result[label] = got
            path.unlink()
        result["baseline"]["peak_mib"] = round(result["baseline"]["peak_mib"], 1)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=1))
