"""The cheap name and path parts agree with PurePosixPath on any string."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from midst_desktop.classify import names

# Dots and slashes are what the parts turn on; letters fill in between.
PIECES = st.text(alphabet=st.sampled_from(["/", ".", "a", "b", " ", "é", "_"]))


@given(PIECES)
def test_stem_and_suffix_are_pure_posix_paths(name: str) -> None:
    assert names.stem(name) == PurePosixPath(name).stem
    assert names.suffix(name) == PurePosixPath(name).suffix


@given(PIECES)
def test_parent_is_pure_posix_paths(path: str) -> None:
    assert names.parent(path) == str(PurePosixPath(path).parent)


def test_common_names_and_paths() -> None:
    assert (names.stem("Thesis.final.pdf"), names.suffix("Thesis.final.pdf")) == (
        "Thesis.final",
        ".pdf",
    )
    assert (names.stem(".bashrc"), names.suffix(".bashrc")) == (".bashrc", "")
    assert names.parent("/Papers/2024/draft.tex") == "/Papers/2024"
    assert names.parent("/draft.tex") == "/"
