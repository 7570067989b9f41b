"""The classification corpus: real files from pinned Debian packages, and their types.

`python -m benchmarks.corpus` downloads every package the manifest pins
(`apt-get download NAME=VERSION`), unpacks it with `dpkg -x`, copies the
listed files to `benchmarks/work/corpus/PACKAGE/PATH` and checks each
file's SHA-256. It is re-runnable: a package whose files are all in place
and intact is not fetched again. A pinned version the archive no longer
serves, or a file whose hash differs, stops the run with a one-line reason.

`python -m benchmarks.corpus --select` is the maintainer's step that wrote
the manifest: it applies the picks below to the unpacked packages. The true
types come from the picks, which were chosen by reading the files (first
pages of every R vignette, the look of every wallpaper folder), never from
what a classifier says.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "corpus-manifest.json"
WORK = HERE / "work"
CORPUS = WORK / "corpus"
DEBS = WORK / "debs"
UNPACKED = WORK / "unpacked"

ARTIFACT_TYPES = (
    "academic_paper",
    "creative_writing",
    "visual_art",
    "presentation",
    "video",
    "audio",
    "dataset",
    "code_sample",
    "other",
)


class CorpusError(Exception):
    """Something the person running the benchmark has to fix; one line."""


@dataclass(frozen=True, slots=True)
class Pick:
    """Files of one package with one true type."""

    pattern: str  # fnmatch on the path inside the package; `*` crosses folders
    artifact_type: str
    limit: int = 0  # 0 keeps every match; else an evenly spaced sample
    exclude: str = ""  # a regex on the path; a match is left out
    require: str = ""  # a regex the file name must match
    landscape: bool = False  # PDFs only: keep those whose first page is wider


R_LIB = "usr/lib/R/site-library"
TEXDOC = "usr/share/doc/texlive-doc"
PY = "usr/lib/python3/dist-packages"
LO_TEMPLATES = "usr/lib/libreoffice/share/template"
OPENCV = "usr/share/doc/opencv-doc/examples"
FORTUNES = "usr/share/games/fortunes"
# Fortune files about the distribution or the machine are notes, not writing.
FORTUNE_NOTES = (
    r"/(debian|linux\w*|computers?|translate-me|disclaimer|infodrom|ms|"
    r"channel-debian\.fortunes)$|\.dat$"
)
R_PAPERS = [
    "coin/doc/LegoCondInf.pdf",
    "coin/doc/MAXtest.pdf",
    "coin/doc/coin.pdf",
    "coin/doc/Implementation.pdf",
    "lme4/doc/lmer.pdf",
    "lme4/doc/Theory.pdf",
    "lme4/doc/PLSvGLS.pdf",
    "lmtest/doc/lmtest-intro.pdf",
    "mvtnorm/doc/MVT_Rnews.pdf",
    "partykit/doc/ctree.pdf",
    "partykit/doc/mob.pdf",
    "partykit/doc/partykit.pdf",
    "partykit/doc/constparty.pdf",
    "pscl/doc/countreg.pdf",
    "quantreg/doc/rq.pdf",
    "quantreg/doc/crq.pdf",
    "sandwich/doc/sandwich.pdf",
    "sandwich/doc/sandwich-OOP.pdf",
    "sandwich/doc/sandwich-CL.pdf",
    "strucchange/doc/strucchange-intro.pdf",
    "vcd/doc/strucplot.pdf",
    "vcd/doc/residual-shadings.pdf",
    "xts/doc/xts.pdf",
    "zoo/doc/zoo.pdf",
]
# Vignettes that are a FAQ, a quick reference or an errata sheet.
R_NOTES = [
    "AER/doc/AER.pdf",
    "AER/doc/Sweave-journals.pdf",
    "xts/doc/xts-faq.pdf",
    "zoo/doc/zoo-design.pdf",
    "zoo/doc/zoo-faq.pdf",
    "zoo/doc/zoo-quickref.pdf",
    "zoo/doc/zoo-read.pdf",
]
# Folders of pictures inside documentation: figures, not manuals.
FIGURES = r"/([Ii]mages?|[Ff]igures?|[Pp]hotos?|[Aa]nims?|img)/"
SLIDE_NAMES = r"(beamer|slides|powerdot|semsamp|prosper|talk|folien)"
NOT_SLIDES = (
    r"(user|guide|manual|doc|poster|article|handout|letter|factsheet|thesis|"
    r"report|exercise|announcement|code|theme|template)[^/]*$"
)


def _r(package: str, names: list[str], artifact_type: str) -> list[Pick]:
    return [
        Pick(f"{R_LIB}/{name}", artifact_type)
        for name in names
        if name.split("/")[0].lower() == package.removeprefix("r-cran-")
    ]


def _sources() -> dict[str, tuple[str, list[Pick]]]:
    r_packages = {
        "r-cran-zoo": "1.8-11-1",
        "r-cran-sandwich": "3.0-2-1",
        "r-cran-lme4": "1.1-31-1",
        "r-cran-vcd": "1:1.4-11-1",
        "r-cran-mvtnorm": "1.1-3-1+b1",
        "r-cran-xts": "0.13.0-1",
        "r-cran-quantreg": "5.94-1",
        "r-cran-strucchange": "1.5-3-1",
        "r-cran-pscl": "1.5.5-1+b1",
        "r-cran-coin": "1.4-2-1+b1",
        "r-cran-partykit": "1.2-16-1",
        "r-cran-lmtest": "0.9.40-1",
        "r-cran-aer": "1.2-10-1",
    }
    sources: dict[str, tuple[str, list[Pick]]] = {}
    for package, version in r_packages.items():
        picks = _r(package, R_PAPERS, "academic_paper")
        picks += _r(package, R_NOTES, "other")
        if package == "r-cran-aer":
            picks.append(Pick(f"{R_LIB}/AER/data/*.rda", "dataset", limit=15))
        if package == "r-cran-xts":
            picks.append(Pick(f"{R_LIB}/xts/include/*.h", "code_sample"))
        sources[package] = (version, picks)

    sources.update(
        {
            # Writing: fortune collections (poems, quotations, stories) and verse.
            "fortunes": (
                "1:1.99.1-7.3",
                [
                    # Pictures drawn in characters are art, not writing.
                    Pick(f"{FORTUNES}/ascii-art", "visual_art"),
                    Pick(f"{FORTUNES}/*", "creative_writing", exclude=FORTUNE_NOTES),
                ],
            ),
            "fortunes-de": (
                "0.35-1",
                [
                    Pick(f"{FORTUNES}/de/asciiart", "visual_art"),
                    Pick(f"{FORTUNES}/de/*", "creative_writing", exclude=FORTUNE_NOTES),
                ],
            ),
            "fortunes-it": (
                "1.99-4.1",
                [Pick(f"{FORTUNES}/*", "creative_writing", exclude=FORTUNE_NOTES)],
            ),
            "fortunes-es": (
                "1.36",
                [Pick(f"{FORTUNES}/es/*.fortunes", "creative_writing", limit=20)],
            ),
            "texlive-humanities-doc": (
                "2022.20230122-4",
                [
                    Pick(
                        f"{TEXDOC}/latex/eledmac/examples/1-verses.pdf",
                        "creative_writing",
                    ),
                    Pick(
                        f"{TEXDOC}/latex/eledmac/examples/4-eledpar_verse_text_between.pdf",
                        "creative_writing",
                    ),
                    Pick(
                        f"{TEXDOC}/latex/reledmac/examples/1-verses-doublenumbering.pdf",
                        "creative_writing",
                    ),
                    Pick(
                        f"{TEXDOC}/latex/*.pdf",
                        "other",
                        limit=15,
                        exclude="example|" + FIGURES,
                    ),
                ],
            ),
            # Pictures: wallpapers, artwork and classic test photographs.
            "gnome-backgrounds": (
                "43.1-1",
                [
                    Pick(
                        "usr/share/backgrounds/gnome/*",
                        "visual_art",
                        exclude=r"\.xml$",
                    )
                ],
            ),
            "mate-backgrounds": (
                "1.26.0-1",
                [Pick("usr/share/backgrounds/*", "visual_art", exclude=r"\.xml$")],
            ),
            "desktop-base": (
                "12.0.6+nmu1~deb12u1",
                [
                    Pick(
                        "usr/share/desktop-base/*/wallpaper/contents/images/*",
                        "visual_art",
                        limit=30,
                    )
                ],
            ),
            # Slides: LibreOffice Impress templates and LaTeX slide demos.
            "libreoffice-common": (
                "4:7.4.7-1+deb12u14",
                [
                    Pick(
                        f"{LO_TEMPLATES}/*/presnt/*.otp",
                        "presentation",
                    ),
                    Pick(
                        f"{LO_TEMPLATES}/common/wizard/*.ott",
                        "other",
                        limit=15,
                    ),
                ],
            ),
            "texlive-publishers-doc": (
                "2022.20230122-4",
                [
                    Pick(
                        f"{TEXDOC}/*.pdf",
                        "presentation",
                        require=SLIDE_NAMES,
                        exclude=NOT_SLIDES,
                        landscape=True,
                    ),
                ],
            ),
            "texlive-latex-extra-doc": (
                "2022.20230122-4",
                [
                    Pick(
                        f"{TEXDOC}/*.pdf",
                        "presentation",
                        limit=30,
                        require=SLIDE_NAMES,
                        exclude=NOT_SLIDES,
                        landscape=True,
                    ),
                    Pick(
                        f"{TEXDOC}/latex/shipunov/altverse-ex*.pdf", "creative_writing"
                    ),
                    Pick(
                        f"{TEXDOC}/latex/*.pdf",
                        "other",
                        limit=30,
                        exclude=r"(demo|example|sample|test|beamer|slide|verse)|"
                        + FIGURES,
                    ),
                ],
            ),
            "texlive-latex-recommended-doc": (
                "2022.20230122-3",
                [
                    Pick(f"{TEXDOC}/latex/seminar/semsamp*.pdf", "presentation"),
                    Pick(
                        f"{TEXDOC}/latex/*.pdf",
                        "other",
                        limit=25,
                        exclude=r"(semsamp|beamer|example|sample)|" + FIGURES,
                    ),
                ],
            ),
            # Video: OpenCV's sample clips and GNOME's help animation.
            "opencv-doc": (
                "4.6.0+dfsg-12",
                [
                    Pick(f"{OPENCV}/data/*.avi", "video"),
                    Pick(
                        f"{OPENCV}/data/*.jpg",
                        "visual_art",
                        limit=20,
                        exclude=r"(chessboard|left\d|right\d|box|text|licen|calib)",
                    ),
                    Pick(
                        f"{OPENCV}/cpp/*.cpp",
                        "code_sample",
                        limit=20,
                    ),
                ],
            ),
            "gnome-user-docs": (
                "43.0-2",
                [
                    Pick("usr/share/help/C/gnome-help/figures/*.webm", "video"),
                    Pick("usr/share/help/C/gnome-help/*.page", "other", limit=20),
                ],
            ),
            # Sound: desktop sound themes and music samples.
            "sound-theme-freedesktop": (
                "0.8-2",
                [Pick("usr/share/sounds/freedesktop/stereo/*.oga", "audio")],
            ),
            "alsa-utils": ("1.2.8-1", [Pick("usr/share/sounds/alsa/*.wav", "audio")]),
            "oxygen-sounds": (
                "4:5.27.5-2",
                [Pick("usr/share/sounds/*.ogg", "audio", limit=25)],
            ),
            "lmms-common": (
                "1.2.2+dfsg1-6",
                [
                    Pick("usr/share/lmms/samples/*.ogg", "audio", limit=20),
                    Pick("usr/share/lmms/samples/*.flac", "audio", limit=10),
                    Pick("usr/share/lmms/samples/*.wav", "audio", limit=10),
                ],
            ),
            "sound-icons": (
                "0.1-8",
                [Pick("usr/share/sounds/sound-icons/*.wav", "audio", limit=15)],
            ),
            # Data: statistics data sets, code tables, Unicode data files.
            "python3-statsmodels": (
                "0.13.5+dfsg-7",
                [
                    Pick(
                        f"{PY}/statsmodels/datasets/*.csv",
                        "dataset",
                        limit=25,
                    ),
                    Pick(
                        f"{PY}/statsmodels/*/tests/*.csv",
                        "dataset",
                        limit=15,
                    ),
                    Pick(
                        f"{PY}/statsmodels/*.py",
                        "code_sample",
                        limit=20,
                        exclude=r"(__init__|/tests/|/datasets/)",
                    ),
                ],
            ),
            "python3-sklearn": (
                "1.2.1+dfsg-1",
                [
                    Pick(
                        f"{PY}/sklearn/datasets/data/*.csv",
                        "dataset",
                    ),
                    Pick(
                        f"{PY}/sklearn/*.py",
                        "code_sample",
                        limit=15,
                        exclude=r"(__init__|/tests/)",
                    ),
                ],
            ),
            "r-cran-palmerpenguins": (
                "0.1.1-1",
                [Pick(f"{R_LIB}/palmerpenguins/extdata/*.csv", "dataset")],
            ),
            "iso-codes": (
                "4.15.0-1",
                [Pick("usr/share/iso-codes/json/*.json", "dataset")],
            ),
            "unicode-data": (
                "15.0.0-1",
                [
                    Pick(
                        "usr/share/unicode/*.txt",
                        "dataset",
                        limit=20,
                        exclude=r"(?i)(readme|notice)",
                    )
                ],
            ),
            # Source code in five languages.
            "python3-requests": (
                "2.28.1+dfsg-1",
                [Pick(f"{PY}/requests/*.py", "code_sample")],
            ),
            "golang-github-spf13-cobra-dev": (
                "1.6.1-1",
                [Pick("usr/share/gocode/src/*.go", "code_sample", limit=20)],
            ),
            "ruby-rack": (
                "2.2.22-0+deb12u2",
                [
                    Pick(
                        "usr/share/rubygems-integration/all/gems/rack-*/lib/*.rb",
                        "code_sample",
                        limit=20,
                    )
                ],
            ),
            "libjs-jquery": (
                "3.6.1+dfsg+~3.5.14-1",
                [Pick("usr/share/javascript/jquery/jquery.js", "code_sample")],
            ),
            "librust-serde-dev": (
                "1.0.152-2",
                [Pick("usr/share/cargo/registry/*.rs", "code_sample", limit=15)],
            ),
            # Other: manuals as PDF and EPUB.
            "live-manual-pdf": (
                "2:20151217.2",
                [Pick("usr/share/doc/live-manual/pdf/*.pdf", "other")],
            ),
            "live-manual-epub": (
                "2:20151217.2",
                [Pick("usr/share/doc/live-manual/epub/*.epub", "other")],
            ),
        }
    )
    return sources


# Running commands


def _run(
    command: list[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def deb_name(package: str, version: str) -> str:
    """The file name apt-get download gives a package (the epoch as %3a)."""
    return f"{package}_{version.replace(':', '%3a')}_"


def fetch(package: str, version: str, debs: Path = DEBS) -> Path:
    """The .deb of package at exactly version; downloads it when not yet here."""
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(deb_name(package, version) + "*.deb"))
    if found:
        return found[0]
    result = _run(["apt-get", "download", f"{package}={version}"], cwd=debs)
    if result.returncode != 0 and "apt-get update" not in sys.argv:
        # A fresh machine has no package lists yet; one update is enough.
        _run(["apt-get", "update"])
        result = _run(["apt-get", "download", f"{package}={version}"], cwd=debs)
    found = sorted(debs.glob(deb_name(package, version) + "*.deb"))
    if result.returncode != 0 or not found:
        reason = (result.stderr.strip().splitlines() or ["no .deb was written"])[-1]
        raise CorpusError(
            f"{package}={version} cannot be downloaded any more ({reason}); "
            "pin a version the archive serves and run --select again"
        )
    return found[0]


def unpack(
    package: str, version: str, debs: Path = DEBS, unpacked: Path = UNPACKED
) -> Path:
    target = unpacked / package
    if target.is_dir():
        return target
    deb = fetch(package, version, debs)
    partial = unpacked / f"{package}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    result = _run(["dpkg", "-x", str(deb), str(partial)])
    if result.returncode != 0:
        raise CorpusError(f"dpkg -x {deb.name} failed: {result.stderr.strip()}")
    partial.rename(target)
    return target


def _is_landscape(path: Path) -> bool:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(str(path))
        try:
            width, height = document[0].get_size()
        finally:
            document.close()
    except Exception:
        return False
    return bool(width > height * 1.2)


def _sample(paths: list[str], limit: int) -> list[str]:
    if not limit or len(paths) <= limit:
        return paths
    step = len(paths) / limit
    return [paths[int(index * step)] for index in range(limit)]


Sources = dict[str, tuple[str, list[Pick]]]


@dataclass(frozen=True)
class FileSet:
    """Files of pinned packages with their true types: a manifest and its folder.

    The classification corpus is one; the unseen set (`benchmarks/unseen.py`)
    is another, assembled the same way into a folder of its own.
    """

    name: str  # what messages and the command line call it
    manifest: Path
    folder: Path  # where the files are copied, as folder/PACKAGE/PATH
    sources: Callable[[], Sources]  # the picks; only --select reads them
    description: str  # written into the manifest
    debs: Path = DEBS
    unpacked: Path = UNPACKED

    def load_manifest(self) -> dict[str, object]:
        try:
            manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CorpusError(
                f"{self.manifest} is missing; run with --select"
            ) from None
        assert isinstance(manifest, dict)
        return manifest

    def files(self) -> list[dict[str, str]]:
        """The manifest's file entries (package, version, path, sha256, type)."""
        files = self.load_manifest()["files"]
        assert isinstance(files, list)
        return files

    def local_path(self, entry: dict[str, str]) -> Path:
        return self.folder / entry["package"] / entry["path"]

    def _intact(self, entries: list[dict[str, str]]) -> bool:
        return all(
            self.local_path(e).is_file()
            and sha256_of(self.local_path(e)) == e["sha256"]
            for e in entries
        )

    def assemble(self, keep_unpacked: bool = False) -> int:
        """Bring every manifest file into the folder, checked; returns the count."""
        by_package: dict[tuple[str, str], list[dict[str, str]]] = {}
        for entry in self.files():
            key = (entry["package"], entry["version"])
            by_package.setdefault(key, []).append(entry)
        for (package, version), entries in sorted(by_package.items()):
            if self._intact(entries):
                continue
            root = unpack(package, version, self.debs, self.unpacked)
            for entry in entries:
                source = root / entry["path"]
                if not source.is_file():
                    raise CorpusError(f"{package}={version} has no {entry['path']}")
                actual = sha256_of(source)
                if actual != entry["sha256"]:
                    raise CorpusError(
                        f"{package}={version}: {entry['path']} has SHA-256 "
                        f"{actual}, the manifest says {entry['sha256']}"
                    )
                destination = self.local_path(entry)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
            if not keep_unpacked:
                shutil.rmtree(root)
            print(
                f"{self.name}: {package}={version}: {len(entries)} files",
                file=sys.stderr,
            )
        return len(self.files())

    def select(self) -> int:
        """Apply the picks to the unpacked packages and write the manifest."""
        sources = self.sources()
        entries: list[dict[str, str]] = []
        seen_hashes: set[str] = set()
        for package, (version, picks) in sorted(sources.items()):
            root = unpack(package, version, self.debs, self.unpacked)
            files = sorted(
                str(PurePosixPath(*p.relative_to(root).parts))
                for p in root.rglob("*")
                if p.is_file() and not p.is_symlink()
            )
            claimed: set[str] = set()
            for pick in picks:
                matches = [
                    name
                    for name in files
                    if name not in claimed
                    and fnmatch.fnmatchcase(name, pick.pattern)
                    and not (pick.exclude and re.search(pick.exclude, name))
                    and re.search(pick.require, PurePosixPath(name).name)
                    and (root / name).stat().st_size > 0
                ]
                if pick.landscape:
                    matches = [n for n in matches if _is_landscape(root / n)]
                kept = 0
                for name in _sample(matches, pick.limit):
                    digest = sha256_of(root / name)
                    if digest in seen_hashes:
                        continue  # the same bytes twice would count one file twice
                    seen_hashes.add(digest)
                    claimed.add(name)
                    kept += 1
                    entries.append(
                        {
                            "package": package,
                            "version": version,
                            "path": name,
                            "sha256": digest,
                            "artifact_type": pick.artifact_type,
                        }
                    )
                if not kept:
                    raise CorpusError(f"{package}: no file matches {pick.pattern}")
        manifest = {
            "description": self.description,
            "packages": {p: v for p, (v, _) in sorted(sources.items())},
            "files": entries,
        }
        self.manifest.write_text(json.dumps(manifest, indent=1) + "\n", "utf-8")
        return len(entries)

    def main(self, argv: list[str] | None = None) -> int:
        """`python -m benchmarks.NAME [--select] [--keep-unpacked]`."""
        parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{self.name}")
        parser.add_argument(
            "--select", action="store_true", help="rewrite the manifest from the picks"
        )
        parser.add_argument("--keep-unpacked", action="store_true")
        args = parser.parse_args(argv)
        try:
            if args.select:
                count = self.select()
                print(f"{self.name}: manifest lists {count} files", file=sys.stderr)
                return 0
            count = self.assemble(keep_unpacked=args.keep_unpacked)
        except CorpusError as error:
            print(f"{self.name}: {error}", file=sys.stderr)
            return 1
        print(f"{self.name}: {count} files in {self.folder}", file=sys.stderr)
        return 0


CORPUS_SET = FileSet(
    name="corpus",
    manifest=MANIFEST,
    folder=CORPUS,
    sources=_sources,
    description=(
        "Classification corpus: files from pinned Debian 12 packages with their "
        "true artifact type. Assemble with `python -m benchmarks.corpus`."
    ),
)
SOURCES = _sources()


def load_manifest() -> dict[str, object]:
    return CORPUS_SET.load_manifest()


def corpus_files() -> list[dict[str, str]]:
    """The corpus manifest's file entries."""
    return CORPUS_SET.files()


def local_path(entry: dict[str, str]) -> Path:
    return CORPUS_SET.local_path(entry)


def assemble(keep_unpacked: bool = False) -> int:
    return CORPUS_SET.assemble(keep_unpacked)


def select() -> int:
    return CORPUS_SET.select()


def main(argv: list[str] | None = None) -> int:
    return CORPUS_SET.main(argv)


if __name__ == "__main__":
    sys.exit(main())
