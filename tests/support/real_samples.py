"""Real files for the extractor tests: a few, from pinned Debian packages, fetched once.

`fetch()` brings every file that tests/data/real-samples.json lists into
tests/data/real/PACKAGE/PATH (git-ignored): it downloads each package whose
files are missing or damaged (`apt-get download NAME=VERSION`), unpacks it
with `dpkg -x` in a scratch folder, keeps only the listed files and checks
their SHA-256. The packages come to about 7 MB, fetched in one apt-get call,
and the files kept to under 1 MB; a second call reads nothing from the network.
`python -m tests.support.real_samples` does the same from a shell.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

MANIFEST = Path(__file__).resolve().parents[1] / "data" / "real-samples.json"
FOLDER = MANIFEST.parent / "real"
COMMAND_TIMEOUT_SECONDS = 300


class RealSampleError(Exception):
    """Why the real files are not there; one line."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def local_path(entry: dict[str, str]) -> Path:
    return FOLDER / entry["package"] / entry["path"]


def _intact(entry: dict[str, str]) -> bool:
    path = local_path(entry)
    return path.is_file() and sha256_of(path) == entry["sha256"]


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RealSampleError(
            f"{' '.join(command)} took more than {COMMAND_TIMEOUT_SECONDS} s"
        ) from None


def _download(packages: dict[str, str], scratch: Path) -> dict[str, Path]:
    """The .deb of each package at its version, in one apt-get call."""
    wanted = [f"{package}={version}" for package, version in sorted(packages.items())]
    result = _run(["apt-get", "download", *wanted], scratch)
    if result.returncode != 0:
        # A fresh machine has no package lists yet; one update is enough.
        _run(["apt-get", "update"], scratch)
        result = _run(["apt-get", "download", *wanted], scratch)
    debs = {}
    for package in packages:
        found = sorted(scratch.glob(f"{package}_*.deb"))
        if result.returncode != 0 or not found:
            lines = result.stderr.strip().splitlines() or ["no .deb was written"]
            raise RealSampleError(f"cannot download {' '.join(wanted)} ({lines[-1]})")
        debs[package] = found[0]
    return debs


def _unpack(deb: Path, entries: list[dict[str, str]], scratch: Path) -> None:
    unpacked = scratch / deb.stem
    result = _run(["dpkg", "-x", str(deb), str(unpacked)], scratch)
    if result.returncode != 0:
        raise RealSampleError(f"dpkg -x {deb.name} failed: {result.stderr.strip()}")
    for entry in entries:
        source = unpacked / entry["path"]
        if not source.is_file():
            raise RealSampleError(f"{deb.name} has no {entry['path']}")
        actual = sha256_of(source)
        if actual != entry["sha256"]:
            raise RealSampleError(
                f"{deb.name}: {entry['path']} has SHA-256 {actual}, "
                f"the manifest says {entry['sha256']}"
            )
        destination = local_path(entry)
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(destination)


def fetch() -> dict[str, Path]:
    """The real files by their names, fetched first where missing.

    Blocks for the download (a few seconds); raises RealSampleError when a
    file cannot be had: no apt-get or dpkg, no network, a version gone.
    """
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    files: list[dict[str, str]] = manifest["files"]
    missing_by_package: dict[str, list[dict[str, str]]] = {}
    for entry in files:
        if not _intact(entry):
            missing_by_package.setdefault(entry["package"], []).append(entry)
    if missing_by_package:
        if not (shutil.which("apt-get") and shutil.which("dpkg")):
            raise RealSampleError("apt-get and dpkg are needed to fetch them")
        FOLDER.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=FOLDER, prefix=".fetch-") as name:
            scratch = Path(name)
            versions = {p: manifest["packages"][p] for p in missing_by_package}
            debs = _download(versions, scratch)
            for package, entries in sorted(missing_by_package.items()):
                _unpack(debs[package], entries, scratch)
    by_name = {PurePosixPath(e["path"]).name: local_path(e) for e in files}
    assert len(by_name) == len(files), "two sample files share a name"
    return by_name


def main() -> int:
    try:
        paths = fetch()
    except RealSampleError as error:
        print(f"real samples: {error}", file=sys.stderr)
        return 1
    print(f"real samples: {len(paths)} files in {FOLDER}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
