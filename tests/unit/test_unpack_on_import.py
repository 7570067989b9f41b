"""The one-file binary's runtime hook: heavy packages unpacked once into the cache."""

from __future__ import annotations

import fcntl
import importlib
import importlib.util
import json
import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import missing

HOOK = Path(__file__).resolve().parents[2] / "build" / "rthook_unpack.py"
SECTION = "midst_packages"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rthook_unpack", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(package: str) -> dict[str, tuple[str, int]]:
    return {
        f"{package}/__init__.py": ("from .core import ANSWER\n", 0o644),
        f"{package}/core.py": ("ANSWER = 42\n", 0o600),
        f"{package}.libs/libdata.txt": ("data\n", 0o644),
    }


def _binary(root: Path, packages: dict[str, bool], build: str = "b1") -> Path:
    """A temporary folder laid out like the binary's, and an executable whose
    ELF section holds the packages' zip, as the spec builds them."""
    if shutil.which("objcopy") is None:
        missing("objcopy (binutils) is needed to build an executable with a section")
    meipass = root / "meipass"
    (meipass / "_unpack_on_import").mkdir(parents=True)
    archive = root / "packages.zip"
    manifest: dict[str, object] = {"build": build, "section": SECTION}
    entries = {}
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for package, at_start in packages.items():
            sizes = {}
            for name, (text, mode) in _files(package).items():
                info = zipfile.ZipInfo(name)
                info.external_attr = mode << 16
                bundle.writestr(info, text)
                sizes[name] = len(text.encode())
            entries[package] = {
                "folders": [package, f"{package}.libs"],
                "at_start": at_start,
                "files": sizes,
            }
    manifest["packages"] = entries
    (meipass / "_unpack_on_import" / "manifest.json").write_text(json.dumps(manifest))
    executable = root / "midst-desktop"
    shutil.copy(os.path.realpath(sys.executable), executable)
    subprocess.run(
        ["objcopy", "--add-section", f"{SECTION}={archive}", str(executable)],
        check=True,
    )
    return meipass


def _start(
    root: Path, meipass: Path, cache: Path, name: str = "meipass"
) -> tuple[ModuleType, object]:
    """A start of the binary: a fresh temporary folder, the same cache."""
    if meipass.name != name:
        shutil.copytree(root / "meipass", root / name)
        meipass = root / name
    hook = _hook()
    environ = {"XDG_CACHE_HOME": str(cache), "HOME": "/nonexistent"}
    finder = hook.install(str(meipass), str(root / "midst-desktop"), environ)
    return hook, finder


@pytest.fixture
def clean_imports() -> Iterator[None]:
    meta_path, path = list(sys.meta_path), list(sys.path)
    before = set(sys.modules)
    yield
    sys.meta_path[:], sys.path[:] = meta_path, path
    for name in set(sys.modules) - before:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.mark.usefixtures("clean_imports")
def test_a_package_the_start_needs_is_unpacked_into_the_cache_and_linked(
    tmp_path: Path,
) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_a": True})
    cache = tmp_path / "cache"

    _start(tmp_path, meipass, cache)

    unpacked = cache / "midst-desktop" / "packages" / "b1" / "cached_pkg_a"
    link = meipass / "cached_pkg_a"
    assert link.is_symlink()
    assert link.resolve() == (unpacked / "cached_pkg_a").resolve()
    assert (meipass / "cached_pkg_a.libs" / "libdata.txt").read_text() == "data\n"
    assert (unpacked / "cached_pkg_a" / "core.py").stat().st_mode & 0o777 == 0o600
    root = cache / "midst-desktop" / "packages"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    sys.path.insert(0, str(meipass))
    assert importlib.import_module("cached_pkg_a").ANSWER == 42


@pytest.mark.usefixtures("clean_imports")
def test_another_package_is_unpacked_when_first_imported_and_only_then(
    tmp_path: Path,
) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_b": False})
    cache = tmp_path / "cache"
    sys.path.insert(0, str(meipass))
    _, finder = _start(tmp_path, meipass, cache)
    assert sys.meta_path[0] is finder
    importlib.import_module("json.decoder")  # another package: nothing unpacked
    assert not (meipass / "cached_pkg_b").exists()
    assert not (cache / "midst-desktop" / "packages" / "b1" / "cached_pkg_b").exists()

    module = importlib.import_module("cached_pkg_b")

    assert module.ANSWER == 42
    assert (meipass / "cached_pkg_b").is_symlink()
    assert finder.waiting == set()  # type: ignore[attr-defined]


def test_a_later_start_uses_the_cache_without_unpacking_again(tmp_path: Path) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_c": True})
    cache = tmp_path / "cache"
    _start(tmp_path, meipass, cache, "first")
    core = cache / "midst-desktop" / "packages" / "b1" / "cached_pkg_c"
    core = core / "cached_pkg_c" / "core.py"
    core.write_text("ANSWER = 43\n")  # the same size: a complete cache

    _start(tmp_path, meipass, cache, "second")

    assert core.read_text() == "ANSWER = 43\n"
    second = tmp_path / "second" / "cached_pkg_c" / "core.py"
    assert second.read_text() == "ANSWER = 43\n"


def test_a_cache_missing_a_file_is_unpacked_again(tmp_path: Path) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_d": True})
    cache = tmp_path / "cache"
    _start(tmp_path, meipass, cache, "first")
    unpacked = cache / "midst-desktop" / "packages" / "b1" / "cached_pkg_d"
    (unpacked / "cached_pkg_d" / "core.py").unlink()

    _start(tmp_path, meipass, cache, "second")

    assert (unpacked / "cached_pkg_d" / "core.py").read_text() == "ANSWER = 42\n"
    assert not [p for p in unpacked.parent.iterdir() if p.name.startswith(".")]


def test_an_older_build_is_removed_unless_a_process_still_runs_it(
    tmp_path: Path,
) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_e": True})
    root = tmp_path / "cache" / "midst-desktop" / "packages"
    for old in ("old_idle", "old_running"):
        (root / old / "cached_pkg_e").mkdir(parents=True)
        (root / f"{old}.lock").touch()
    with open(root / "old_running.lock") as running:
        fcntl.flock(running, fcntl.LOCK_SH)  # as a running old binary does

        _start(tmp_path, meipass, tmp_path / "cache")

    assert not (root / "old_idle").exists()
    assert not (root / "old_idle.lock").exists()
    assert (root / "old_running" / "cached_pkg_e").is_dir()
    assert (root / "b1" / "cached_pkg_e").is_dir()


def test_without_a_usable_cache_a_package_is_unpacked_into_the_temporary_folder(
    tmp_path: Path,
) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_f": True})
    hook = _hook()

    hook.install(str(meipass), str(tmp_path / "midst-desktop"), {"HOME": ""})

    folder = meipass / "cached_pkg_f"
    assert folder.is_dir() and not folder.is_symlink()
    assert (folder / "core.py").read_text() == "ANSWER = 42\n"


def test_a_cache_folder_that_is_a_link_is_not_used(tmp_path: Path) -> None:
    hook = _hook()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "cache" / "midst-desktop").mkdir(parents=True)
    (tmp_path / "cache" / "midst-desktop" / "packages").symlink_to(elsewhere)

    assert hook.cache_root({"XDG_CACHE_HOME": str(tmp_path / "cache")}) is None


def _start_in_another_process(root: str) -> None:
    _start(Path(root), Path(root) / "meipass", Path(root) / "cache", f"m{os.getpid()}")


def test_concurrent_starts_unpack_the_cache_once_and_whole(tmp_path: Path) -> None:
    _binary(tmp_path, {"cached_pkg_g": True})
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_start_in_another_process, args=(str(tmp_path),))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    build = tmp_path / "cache" / "midst-desktop" / "packages" / "b1"
    assert [p.name for p in build.iterdir()] == ["cached_pkg_g"]
    assert (build / "cached_pkg_g" / "cached_pkg_g" / "core.py").read_text() == (
        "ANSWER = 42\n"
    )


@pytest.mark.usefixtures("clean_imports")
def test_a_package_that_cannot_be_unpacked_fails_the_import_with_one_line(
    tmp_path: Path,
) -> None:
    meipass = _binary(tmp_path, {"cached_pkg_h": False})
    shutil.copy(os.path.realpath(sys.executable), tmp_path / "midst-desktop")
    sys.path.insert(0, str(meipass))
    _, finder = _start(tmp_path, meipass, tmp_path / "cache")

    with pytest.raises(ImportError) as caught:
        importlib.import_module("cached_pkg_h")

    message = str(caught.value)
    assert f"has no section {SECTION}" in message
    assert "\n" not in message
    assert not (meipass / "cached_pkg_h").exists()
    assert "cached_pkg_h" in finder.waiting  # type: ignore[attr-defined]


def test_a_folder_without_a_manifest_installs_nothing(tmp_path: Path) -> None:
    hook = _hook()
    before = list(sys.meta_path)
    assert hook.install(str(tmp_path), sys.executable, {}) is None
    assert sys.meta_path == before
