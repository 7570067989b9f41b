"""Runtime hook of the one-file Linux binary: its heavy packages, unpacked once.

The one-file binary writes its whole archive into a temporary folder at every
start, and the time that takes grows with the bytes written. The spec keeps
the heavy packages out of that archive: Qt (PySide6 with its libraries and ICU
data) and the extractors' and learned model's native code (NumPy, SciPy,
scikit-learn, Pillow, PDFium, cryptography, libpq) travel in one zip, an ELF
section of the executable that the bootloader never reads. This hook unpacks
a package from it once per build and person, into
`$XDG_CACHE_HOME/midst-desktop/packages/<build>/<package>/`, and links the
package's folders into the temporary folder, where the importers look. Qt is
provided before the app starts; the others the first time they are imported.

A package is unpacked into a temporary name and renamed when whole, under a
lock that a concurrent start waits on. Every process holds a shared lock on
its build's lock file; a start takes an old build's folder away only when no
process holds that build's lock. Without a usable cache folder (no home,
read-only, not the person's own), a package is unpacked into the temporary
folder instead, as the plain one file does. The folder build has no
`_unpack_on_import/`, and the hook does nothing there.
"""

from __future__ import annotations

import fcntl
import importlib
import io
import json
import os
import shutil
import stat
import struct
import sys
import tempfile
import zipfile
from typing import IO, Any

DIRNAME = "_unpack_on_import"
MANIFEST = "manifest.json"
CACHE_DIR = ("midst-desktop", "packages")
LOCK = ".lock"


class UnpackError(ImportError):
    """A package of the binary could not be written to its folder."""


def find_section(executable: str, name: str) -> tuple[int, int]:
    """(offset, size) of the ELF section `name` of `executable` (64-bit, LE)."""
    with open(executable, "rb") as stream:
        header = stream.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            raise UnpackError(f"midst-desktop: {executable} is not a 64-bit ELF")
        shoff = struct.unpack_from("<Q", header, 0x28)[0]
        entsize, count, names_index = struct.unpack_from("<HHH", header, 0x3A)
        stream.seek(shoff)
        table = stream.read(entsize * count)
        sections = [
            struct.unpack_from("<IIQQQQ", table, i * entsize) for i in range(count)
        ]
        _, _, _, _, names_offset, names_size = sections[names_index]
        stream.seek(names_offset)
        names = stream.read(names_size)
    wanted = name.encode()
    for name_at, _, _, _, offset, size in sections:
        if names[name_at : names.index(b"\0", name_at)] == wanted:
            return offset, size
    raise UnpackError(f"midst-desktop: {executable} has no section {name}")


class Slice(io.RawIOBase):
    """A read-only window on part of a file: the zip inside the executable."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 (closed with the slice)
        self._start, self._size, self._at = offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._at, os.SEEK_END: self._size}
        self._at = min(max(base[whence] + offset, 0), self._size)
        return self._at

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self._size - self._at)
        self._file.seek(self._start + self._at)
        data = self._file.read(wanted)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


def cache_root(environ: dict[str, str] | None = None) -> str | None:
    """The person's folder for unpacked packages, made 0700; None if unusable."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        home = env.get("HOME", "")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    root = os.path.join(base, *CACHE_DIR)
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        found = os.lstat(root)
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
            return None  # a link or someone else's: never unpack code there
        if stat.S_IMODE(found.st_mode) != 0o700:
            os.chmod(root, 0o700)
    except OSError:
        return None
    return root if os.access(root, os.W_OK | os.X_OK) else None


class Unpacker:
    """Provides the manifest's packages in the temporary folder, from the cache.

    Processes of one run share the temporary folder (the extraction worker is
    the binary started again, and PyInstaller lets it reuse its parent's), so
    a package another process provided is found linked already.
    """

    def __init__(
        self, meipass: str, executable: str, manifest: dict[str, Any], root: str | None
    ) -> None:
        self.meipass = meipass
        self.executable = executable
        self.build = str(manifest["build"])
        self.section = str(manifest["section"])
        self.packages: dict[str, dict[str, Any]] = manifest["packages"]
        self.root = root
        self._in_use: IO[str] | None = None
        if root is not None:
            self.folder = os.path.join(root, self.build)
            with self._locked():
                self._in_use = open(self.folder + LOCK, "w")  # noqa: SIM115
                fcntl.flock(self._in_use, fcntl.LOCK_SH)
                os.makedirs(self.folder, mode=0o700, exist_ok=True)
                self._remove_old_builds()

    def _locked(self) -> Any:
        """The cache's lock, held while a package is unpacked or a build removed."""
        assert self.root is not None
        return _Lock(os.path.join(self.root, LOCK))

    def provide(self, package: str) -> None:
        """Make `package` importable from the temporary folder.

        Blocks while another process unpacks; raises UnpackError.
        """
        entry = self.packages[package]
        folders: list[str] = entry["folders"]
        files: dict[str, int] = entry["files"]
        if self.root is None:
            self._unpack_here(package, files)
        elif not all(os.path.lexists(os.path.join(self.meipass, f)) for f in folders):
            # Linked only once whole, so a link another process of this run
            # made means the package is there.
            target = os.path.join(self.folder, package)
            with self._locked():
                if not _complete(target, files):
                    self._replace(target, files)
            for folder in folders:
                self._link(os.path.join(target, folder), folder)
        # Finders cache folder listings; the folder just gained entries.
        importlib.invalidate_caches()

    def _unpack_here(self, package: str, files: dict[str, int]) -> None:
        """Unpack into the temporary folder itself, once for the processes of a run."""
        marker = os.path.join(self.meipass, DIRNAME, package)
        with _Lock(marker + LOCK):
            if not os.path.exists(marker + ".done"):
                self._unpack(files, self.meipass)
                with open(marker + ".done", "w"):
                    pass

    def _replace(self, target: str, files: dict[str, int]) -> None:
        """Unpack into a temporary name, then rename it to `target`, atomically."""
        if os.path.lexists(target):  # incomplete: a cleaner took some files
            shutil.rmtree(target, ignore_errors=True)
        partial = tempfile.mkdtemp(dir=self.folder, prefix=".partial-")
        try:
            self._unpack(files, partial)
            os.rename(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    def _unpack(self, files: dict[str, int], target: str) -> None:
        try:
            offset, size = find_section(self.executable, self.section)
            with zipfile.ZipFile(Slice(self.executable, offset, size)) as bundle:
                for name in files:
                    member = bundle.getinfo(name)
                    written = bundle.extract(member, target)
                    mode = (member.external_attr >> 16) & 0o777
                    if mode:
                        os.chmod(written, mode)
        except (OSError, KeyError, zipfile.BadZipFile) as error:
            raise UnpackError(
                f"midst-desktop: cannot unpack its packages into {target}: {error}"
            ) from error

    def _link(self, source: str, folder: str) -> None:
        link = os.path.join(self.meipass, folder)
        try:
            os.symlink(source, link)
        except FileExistsError:
            if os.path.realpath(link) != os.path.realpath(source):
                raise UnpackError(
                    f"midst-desktop: {link} is in the way of its packages"
                ) from None
        except OSError as error:
            raise UnpackError(
                f"midst-desktop: cannot link {folder} into {self.meipass}: {error}"
            ) from error

    def _remove_old_builds(self) -> None:
        """Remove other builds' folders that no running process holds."""
        assert self.root is not None
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if name.startswith(".") or name == self.build or not os.path.isdir(path):
                continue
            with open(path + LOCK, "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # that build is running
                shutil.rmtree(path, ignore_errors=True)
                os.unlink(path + LOCK)
        # A start that was killed while unpacking leaves its partial folder.
        for name in os.listdir(self.folder):
            if name.startswith(".partial-"):
                shutil.rmtree(os.path.join(self.folder, name), ignore_errors=True)


class _Lock:
    """An exclusive flock on a file, as a context manager."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        self._file = open(self.path, "w")
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        self._file.close()


def _complete(target: str, files: dict[str, int]) -> bool:
    """Whether every file of the package is there, at its size (a few ms)."""
    try:
        return all(
            os.stat(os.path.join(target, name)).st_size == size
            for name, size in files.items()
        )
    except OSError:
        return False


class UnpackOnImport:
    """A meta path finder that finds nothing: it unpacks, then lets others find."""

    def __init__(self, unpacker: Unpacker, packages: list[str]) -> None:
        self.unpacker = unpacker
        self.waiting = set(packages)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        top = fullname.partition(".")[0]
        if top in self.waiting:
            # The import system holds this package's import lock meanwhile,
            # so another thread importing it waits for the files.
            self.unpacker.provide(top)
            self.waiting.discard(top)
        # None: the finders after this one find the package, now on disk.

    def invalidate_caches(self) -> None:
        pass


def install(
    meipass: str, executable: str, environ: dict[str, str] | None = None
) -> UnpackOnImport | None:
    """Provide the packages needed at start, and put the finder for the rest first."""
    try:
        with open(os.path.join(meipass, DIRNAME, MANIFEST), encoding="utf-8") as stream:
            manifest = json.load(stream)
    except FileNotFoundError:
        return None
    unpacker = Unpacker(meipass, executable, manifest, cache_root(environ))
    later = []
    for package, entry in manifest["packages"].items():
        if entry["at_start"]:
            unpacker.provide(package)
        else:
            later.append(package)
    finder = UnpackOnImport(unpacker, later)
    sys.meta_path.insert(0, finder)
    return finder


if getattr(sys, "frozen", False):
    install(sys._MEIPASS, sys.executable)  # type: ignore[attr-defined]
