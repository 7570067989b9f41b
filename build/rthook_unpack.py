"""Runtime hook of the one-file Linux binary: unpack a package on first import.

The one-file binary unpacks its whole archive into a temporary folder at every
start, and the time that takes grows with the bytes written. The start-up
needs Qt and the app, not the extractors' and the learned model's native code
(NumPy, SciPy, scikit-learn, Pillow, PDFium, cryptography, libpq): the spec
packs each of those packages, with its folder of bundled libraries, into a zip
under `_unpack_on_import/` that the bootloader writes out as it is, and this
hook unpacks a zip next to it the first time its package is imported.

Processes of one run share the temporary folder (the extraction worker is the
binary started again, and PyInstaller lets it reuse its parent's folder), so
a lock file serialises the unpacking and a marker file says it is done. The
folder build has no `_unpack_on_import/`, and the hook does nothing there.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import sys
import zipfile
from typing import Any

DIRNAME = "_unpack_on_import"
MANIFEST = "manifest.json"


class UnpackError(ImportError):
    """A package of the binary could not be written to its folder."""


def unpack(folder: str, archive: str) -> None:
    """Unpack `archive` (a zip in `folder`) into the folder above, once."""
    target = os.path.dirname(folder)
    path = os.path.join(folder, archive)
    done = path + ".done"
    if os.path.exists(done):
        return
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(done):  # another process of this run did it meanwhile
            return
        try:
            with zipfile.ZipFile(path) as bundle:
                for member in bundle.infolist():
                    written = bundle.extract(member, target)
                    mode = (member.external_attr >> 16) & 0o777
                    if mode:
                        os.chmod(written, mode)
        except (OSError, zipfile.BadZipFile) as error:
            raise UnpackError(
                f"midst-desktop: cannot unpack {archive} into {target}: {error}"
            ) from error
        with open(done, "w"):
            pass
    # Finders cache folder listings; the folders just gained files.
    importlib.invalidate_caches()


class UnpackOnImport:
    """A meta path finder that finds nothing: it unpacks, then lets others find."""

    def __init__(self, folder: str, archives: dict[str, str]) -> None:
        self.folder = folder
        self.archives = dict(archives)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        top = fullname.partition(".")[0]
        archive = self.archives.get(top)
        if archive is not None:
            # The import system holds this package's import lock meanwhile,
            # so another thread importing it waits for the files.
            unpack(self.folder, archive)
            self.archives.pop(top, None)
        # None: the finders after this one find the package, now on disk.

    def invalidate_caches(self) -> None:
        pass


def install(folder: str) -> UnpackOnImport | None:
    """Put the finder first on sys.meta_path when `folder` has a manifest."""
    try:
        with open(os.path.join(folder, MANIFEST), encoding="utf-8") as stream:
            archives = json.load(stream)
    except FileNotFoundError:
        return None
    finder = UnpackOnImport(folder, archives)
    sys.meta_path.insert(0, finder)
    return finder


if getattr(sys, "frozen", False):
    install(os.path.join(sys._MEIPASS, DIRNAME))  # type: ignore[attr-defined]
