"""The one-file binary's runtime hook: a package's zip is unpacked on its import."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HOOK = Path(__file__).resolve().parents[2] / "build" / "rthook_unpack.py"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rthook_unpack", HOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bundle(root: Path, package: str, archive: str) -> Path:
    """A temporary folder laid out like the binary's, `package` still zipped."""
    folder = root / "_unpack_on_import"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        init = zipfile.ZipInfo(f"{package}/__init__.py")
        init.external_attr = 0o644 << 16
        bundle.writestr(init, "from .core import ANSWER\n")
        core = zipfile.ZipInfo(f"{package}/core.py")
        core.external_attr = 0o600 << 16
        bundle.writestr(core, "ANSWER = 42\n")
        bundle.writestr(f"{package}.libs/libdata.txt", "data\n")
    (folder / "manifest.json").write_text(json.dumps({package: archive}))
    return folder


@pytest.fixture
def clean_imports() -> Iterator[None]:
    meta_path, path = list(sys.meta_path), list(sys.path)
    before = set(sys.modules)
    yield
    sys.meta_path[:], sys.path[:] = meta_path, path
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.usefixtures("clean_imports")
def test_a_package_is_unpacked_when_first_imported_and_only_then(
    tmp_path: Path,
) -> None:
    hook = _hook()
    folder = _bundle(tmp_path, "zipped_pkg_a", "zipped_pkg_a.zip")
    sys.path.insert(0, str(tmp_path))
    finder = hook.install(str(folder))
    assert sys.meta_path[0] is finder
    importlib.import_module("json.decoder")  # another package: nothing unpacked
    assert not (tmp_path / "zipped_pkg_a").exists()

    module = importlib.import_module("zipped_pkg_a")

    assert module.ANSWER == 42
    assert (tmp_path / "zipped_pkg_a.libs" / "libdata.txt").read_text() == "data\n"
    assert (tmp_path / "zipped_pkg_a" / "core.py").stat().st_mode & 0o777 == 0o600
    assert (folder / "zipped_pkg_a.zip.done").exists()
    assert finder.archives == {}


def test_a_folder_without_a_manifest_installs_nothing(tmp_path: Path) -> None:
    hook = _hook()
    before = list(sys.meta_path)
    assert hook.install(str(tmp_path)) is None
    assert sys.meta_path == before


def test_an_unpacked_zip_is_not_unpacked_again(tmp_path: Path) -> None:
    hook = _hook()
    folder = _bundle(tmp_path, "zipped_pkg_b", "zipped_pkg_b.zip")
    hook.unpack(str(folder), "zipped_pkg_b.zip")
    core = tmp_path / "zipped_pkg_b" / "core.py"
    core.write_text("ANSWER = 'kept'\n")
    hook.unpack(str(folder), "zipped_pkg_b.zip")
    assert core.read_text() == "ANSWER = 'kept'\n"


def _unpack_in_another_process(folder: str) -> None:
    _hook().unpack(folder, "zipped_pkg_c.zip")


def test_processes_sharing_the_folder_unpack_it_once_and_whole(tmp_path: Path) -> None:
    folder = _bundle(tmp_path, "zipped_pkg_c", "zipped_pkg_c.zip")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_unpack_in_another_process, args=(str(folder),))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0]
    assert (tmp_path / "zipped_pkg_c" / "core.py").read_text() == "ANSWER = 42\n"
    assert (folder / "zipped_pkg_c.zip.done").exists()


@pytest.mark.usefixtures("clean_imports")
def test_a_zip_that_cannot_be_unpacked_fails_the_import_with_one_line(
    tmp_path: Path,
) -> None:
    hook = _hook()
    folder = _bundle(tmp_path, "zipped_pkg_d", "zipped_pkg_d.zip")
    (folder / "zipped_pkg_d.zip").write_bytes(b"not a zip")
    sys.path.insert(0, str(tmp_path))
    finder = hook.install(str(folder))

    with pytest.raises(ImportError) as caught:
        importlib.import_module("zipped_pkg_d")

    message = str(caught.value)
    assert "cannot unpack zipped_pkg_d.zip" in message
    assert "\n" not in message
    assert not (folder / "zipped_pkg_d.zip.done").exists()
    assert "zipped_pkg_d" in finder.archives  # a later import tries again
