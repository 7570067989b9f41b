"""The learned model: features, fitting, and a model file that can be trusted."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from midst_desktop.classify import model
from midst_desktop.classify.model import Example, document_of


def _examples() -> list[Example]:
    examples = []
    for number in range(12):
        examples.append(
            Example(
                document_of(
                    f"site-{number}.txt",
                    f"Fieldwork/2024/site-{number}.txt",
                    "text/plain",
                    "specimen transect quadrat sample soil moisture",
                    {"format": "text"},
                ),
                "academic_paper",
                2.0,
            )
        )
        examples.append(
            Example(
                document_of(
                    f"letter-{number}.txt",
                    f"Letters/letter-{number}.txt",
                    "text/plain",
                    "dear friend I write to you of the sea and the summer",
                    {"format": "text"},
                ),
                "creative_writing",
                1.0,
            )
        )
    return examples


def test_a_document_names_its_format_layout_folders_and_words() -> None:
    document = document_of(
        "Talk Slides.pdf",
        "Work/Conferences/Talk Slides.pdf",
        "application/pdf",
        "Abstract: we show",
        {"format": "pdf", "pages": 24, "landscape": True, "doi": "10.1/x"},
    )

    tokens = document.split()
    for token in (
        "name_talk",
        "name_slides",
        "ext_pdf",
        "dir_conferences",
        "mime_application_pdf",
        "fmt_pdf",
        "pages_le30",
        "has_landscape",
        "has_doi",
        "abstract",
    ):
        assert token in tokens


def test_the_model_needs_enough_examples_of_at_least_two_types() -> None:
    examples = _examples()

    assert model.enough(examples)
    assert not model.enough(examples[: model.MIN_EXAMPLES - 1])
    one_type = [e for e in examples if e.artifact_type == "academic_paper"] * 3
    assert not model.enough(one_type)


def test_a_fitted_model_predicts_the_reviewed_type_of_a_similar_file() -> None:
    fitted = model.fit(_examples())

    paper = document_of(
        "site-99.txt",
        "Fieldwork/2025/site-99.txt",
        "text/plain",
        "transect soil",
        {},
    )
    letter = document_of(
        "letter-99.txt", "Letters/letter-99.txt", "text/plain", "dear friend", {}
    )

    assert fitted.predict(paper)[0] == "academic_paper"
    assert fitted.predict(letter)[0] == "creative_writing"
    assert 0.5 < fitted.predict(paper)[1] <= model.CEILING


def test_a_saved_model_loads_back_and_predicts_the_same(tmp_path: Path) -> None:
    fitted = model.fit(_examples(), fingerprint="abc")
    model.save(fitted, tmp_path)

    loaded = model.load(tmp_path)

    assert loaded is not None
    assert loaded.fingerprint == "abc"
    assert loaded.examples == 24
    sample = document_of("site-5.txt", "Fieldwork/site-5.txt", "text/plain", "", {})
    assert loaded.predict(sample) == fitted.predict(sample)
    key = model.model_dir(tmp_path) / model.KEY_FILE
    assert key.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "flipped byte", "empty", "foreign pickle"],
)
def test_a_damaged_model_file_is_discarded_not_loaded(
    tmp_path: Path, damage: str
) -> None:
    path = model.save(model.fit(_examples()), tmp_path)
    blob = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00\xffnot a model at all" * 20)
    elif damage == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flipped byte":
        middle = len(blob) - 100
        path.write_bytes(blob[:middle] + bytes([blob[middle] ^ 1]) + blob[middle + 1 :])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        # A well-formed header over a pickle that was not signed with our key.
        header, _, rest = blob[len(model.MAGIC) :].partition(b"\n")
        _, _, _ = rest.partition(b"\n")
        evil = pickle.dumps({"not": "a pipeline"})
        path.write_bytes(model.MAGIC + header + b"\n" + b"0" * 64 + b"\n" + evil)

    assert model.load(tmp_path) is None
    assert not path.exists()


@pytest.mark.parametrize("field", ["format", "sklearn"])
def test_a_model_from_another_format_or_scikit_learn_is_stale(
    tmp_path: Path, field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted = model.fit(_examples())
    if field == "format":
        monkeypatch.setattr(model, "MODEL_FORMAT", model.MODEL_FORMAT + 1)
    else:
        monkeypatch.setattr(model, "_sklearn_version", lambda: "0.0.1")
    path = model.save(fitted, tmp_path)
    header = model.read_header(tmp_path)
    assert header is not None
    monkeypatch.undo()

    assert model.load(tmp_path) is None
    assert not path.exists()
    assert json.dumps(header)  # the header alone was readable without unpickling


def test_without_scikit_learn_the_model_is_unused_and_its_file_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = model.save(model.fit(_examples()), tmp_path)
    # An installation whose scikit-learn cannot be imported (a broken bundle).
    monkeypatch.setitem(sys.modules, "sklearn", None)

    assert model.load(tmp_path) is None
    assert path.exists()
    monkeypatch.undo()
    assert model.load(tmp_path) is not None


def test_classifying_and_the_cli_do_not_import_scikit_learn_at_start() -> None:
    code = (
        "import sys, midst_desktop.cli, midst_desktop.classify.files, "
        "midst_desktop.classify.model, midst_desktop.classify.reclassify; "
        "print('sklearn' in sys.modules, 'numpy' in sys.modules)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.split() == ["False", "False"]
