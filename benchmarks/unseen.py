"""The unseen set: files of pinned packages the rules were never tuned on.

The classification corpus (`benchmarks/corpus.py`) is where the rules'
thresholds were set, so its figures flatter them. This second set holds
twelve further Debian 12 packages, none of them in the corpus nor among the
five of the earlier one-off check (gnome-devel-docs, unicode-cldr-core,
python3-numpy, fortunes-ru, texlive-science-doc). The picks below were
written and committed before any classifier was run on these files, from
reading the files themselves (the first page of every PDF, the head of every
text file); the benchmark `classify_unseen` must not lead to changing them.
A label that is plainly wrong about what a file is may be corrected, and each
such correction is listed here with its reason:

- none (the first run, on 2026-12-04, changed no label).

`python -m benchmarks.unseen` assembles the set into
`benchmarks/work/unseen/PACKAGE/PATH`, checked against
`benchmarks/unseen-manifest.json`; `--select` is the step that wrote the
manifest from the picks.
"""

from __future__ import annotations

import sys

from benchmarks.corpus import R_LIB, WORK, FileSet, Pick, Sources

HERE = WORK.parent
MANIFEST = HERE / "unseen-manifest.json"
FOLDER = WORK / "unseen"

RCPP = f"{R_LIB}/Rcpp/doc"
# Vignettes that are articles: an abstract, sections, references, and most
# of them published in a journal (JSS, The American Statistician, a
# Biometrical Journal supplement) or on arXiv.
PAPERS = [
    f"{R_LIB}/flexmix/doc/flexmix-intro.pdf",
    f"{R_LIB}/flexmix/doc/bootstrapping.pdf",
    f"{R_LIB}/flexmix/doc/mixture-regressions.pdf",
    f"{R_LIB}/flexmix/doc/regression-examples.pdf",
    f"{R_LIB}/party/doc/party.pdf",
    f"{R_LIB}/party/doc/MOB.pdf",
    f"{R_LIB}/multcomp/doc/generalsiminf.pdf",
    f"{R_LIB}/multcomp/doc/chfls1.pdf",
    f"{RCPP}/Rcpp-jss-2011.pdf",
    f"{RCPP}/Rcpp-introduction.pdf",
    f"{RCPP}/Rcpp-libraries.pdf",
]
# Vignettes that call themselves a note, a FAQ, a quick reference or a set of
# examples: package documentation.
NOTES = [
    f"{R_LIB}/multcomp/doc/multcomp-examples.pdf",
    f"{RCPP}/Rcpp-FAQ.pdf",
    f"{RCPP}/Rcpp-quickref.pdf",
    f"{RCPP}/Rcpp-attributes.pdf",
    f"{RCPP}/Rcpp-extending.pdf",
    f"{RCPP}/Rcpp-modules.pdf",
    f"{RCPP}/Rcpp-package.pdf",
    f"{RCPP}/Rcpp-sugar.pdf",
]
SOURCE_NAMES = r"\.(cpp|c|h|r|R|sh)$"
CS_FORTUNES = "usr/share/games/fortunes/cs"


def _vignettes(package: str) -> list[Pick]:
    folder = f"{R_LIB}/{package}/"
    return [
        Pick(path, "academic_paper") for path in PAPERS if path.startswith(folder)
    ] + [Pick(path, "other") for path in NOTES if path.startswith(folder)]


def _sources() -> Sources:
    return {
        # Papers, notes, data and code from R packages.
        "r-cran-flexmix": (
            "2.3-18-1",
            [*_vignettes("flexmix"), Pick(f"{R_LIB}/flexmix/data/*", "dataset")],
        ),
        "r-cran-party": (
            "1.3-11-1",
            [
                *_vignettes("party"),
                Pick(
                    "usr/share/doc/r-cran-party/tests/*.R",
                    "code_sample",
                ),
            ],
        ),
        "r-cran-multcomp": ("1.4-22-1", _vignettes("multcomp")),
        "r-cran-rcpp": (
            "1.0.10-1",
            [
                *_vignettes("Rcpp"),
                Pick(
                    f"{R_LIB}/Rcpp/examples/*",
                    "code_sample",
                    limit=30,
                    require=SOURCE_NAMES,
                ),
            ],
        ),
        "r-cran-readr": (
            "2.1.4-1",
            [
                # A sample log a reader is shown on: a log, not a table.
                Pick(f"{R_LIB}/readr/extdata/example.log", "other"),
                Pick(f"{R_LIB}/readr/extdata/*", "dataset"),
                Pick(f"{R_LIB}/readr/doc/*.R", "code_sample"),
            ],
        ),
        # Slides: a PDF deck, and decks for a text-mode slide viewer.
        "impressive": (
            "0.13.1-1",
            [
                Pick("usr/share/doc/impressive/demo.pdf", "presentation"),
                Pick("usr/share/doc/impressive/impressive.html", "other"),
                Pick("usr/share/impressive/impressive.py", "code_sample"),
            ],
        ),
        "tpp": (
            "1.3.1-8",
            [
                Pick("usr/share/doc/tpp/examples/*.tpp", "presentation"),
                Pick("usr/bin/tpp", "code_sample"),
                Pick("usr/share/emacs/site-lisp/*/tpp-mode.el", "code_sample"),
                Pick("usr/share/vim/addons/syntax/tpp.vim", "code_sample"),
            ],
        ),
        # Writing: Czech and Slovak quotations, sayings and stories.
        "fortunes-cs": (
            "2.0.9-1.1",
            [
                Pick(
                    f"{CS_FORTUNES}/*",
                    "creative_writing",
                    limit=25,
                    # Kernel mailing list and computer jokes are notes about
                    # the machine, as in the corpus; .dat files are indexes.
                    exclude=r"/(lkml|pocitace)(\.u8)?$|\.dat$",
                ),
                Pick("usr/share/doc/fortunes-cs/[A-Z]*", "other", exclude=r"\.gz$"),
            ],
        ),
        # Pictures: desktop wallpapers, photographs and drawings.
        "ukui-wallpapers": (
            "20.04.3-1.1",
            [Pick("usr/share/backgrounds/*", "visual_art")],
        ),
        # Sound: a desktop sound theme in WAV.
        "deepin-sound-theme": (
            "15.10.6-1",
            [Pick("usr/share/sounds/deepin/stereo/*.wav", "audio")],
        ),
        # Data: the IEEE registries of hardware address blocks.
        "ieee-data": (
            "20220827.1",
            [Pick("usr/share/ieee-data/*", "dataset", exclude=r"/\.")],
        ),
        # Other: a manual as PDF, EPUB, HTML and its reStructuredText sources.
        "developers-reference": (
            "12.18",
            [
                Pick("usr/share/developers-reference/*.pdf", "other"),
                Pick("usr/share/developers-reference/*.epub", "other"),
                Pick(
                    "usr/share/developers-reference/*.html",
                    "other",
                    limit=8,
                    exclude=r"/(_static|search\.html)",
                ),
                Pick(
                    "usr/share/developers-reference/_sources/*.rst.txt",
                    "other",
                    limit=5,
                ),
            ],
        ),
    }


UNSEEN = FileSet(
    name="unseen",
    manifest=MANIFEST,
    folder=FOLDER,
    sources=_sources,
    description=(
        "Unseen set: files from pinned Debian 12 packages outside the "
        "classification corpus, with their true artifact type, labelled before "
        "any classifier ran on them. Assemble with `python -m benchmarks.unseen`."
    ),
)


if __name__ == "__main__":
    sys.exit(UNSEEN.main())
