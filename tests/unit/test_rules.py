"""The rules classifier: formats, whole words, and sniffed content."""

from __future__ import annotations

import pytest

from midst_desktop.classify.rules import classify, words_of


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Quarterly Review.pptx", "presentation"),
        ("budget.xlsx", "dataset"),
        ("measurements.csv", "dataset"),
        ("IMG_2041.JPG", "visual_art"),
        ("interview.mp3", "audio"),
        ("performance.mov", "video"),
        ("solver.py", "code_sample"),
        ("thesis.tex", "academic_paper"),
    ],
)
def test_unambiguous_formats_decide_the_type(name: str, expected: str) -> None:
    assert classify(name).artifact_type == expected


def test_a_slide_deck_and_a_spreadsheet_are_never_creative_writing() -> None:
    assert classify("notes.pptx").artifact_type == "presentation"
    assert classify("notes.xlsx").artifact_type == "dataset"


def test_words_match_whole_words_only() -> None:
    assert "art" not in words_of("Smart Contracts")
    assert classify("Smart Contracts.pdf").artifact_type != "visual_art"
    assert classify("art portfolio.pdf").artifact_type == "visual_art"


def test_camel_case_and_separators_split_into_words() -> None:
    words = words_of("myThesisDraft_v2-final PhD")
    assert {"my", "thesis", "draft", "final", "phd"} <= set(words)


def test_name_words_turn_a_document_into_a_paper() -> None:
    verdict = classify("PhD thesis chapter 3.docx")
    assert verdict.artifact_type == "academic_paper"


def test_a_pdf_with_paper_words_is_more_certain_than_a_bare_pdf() -> None:
    bare = classify("scan0001.pdf")
    worded = classify("conference paper.pdf")
    assert worded.artifact_type == "academic_paper"
    assert worded.confidence > bare.confidence


def test_folder_words_count_when_the_name_says_nothing() -> None:
    assert classify("untitled.pdf", "Poems/2024/untitled.pdf").artifact_type == (
        "creative_writing"
    )


def test_content_decides_when_there_is_no_extension() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    verdict = classify("download", head=png)
    assert verdict.artifact_type == "visual_art"
    assert verdict.mime_type == "image/png"
    pdf = classify("download", head=b"%PDF-1.7\n%\xe2\xe3")
    assert pdf.mime_type == "application/pdf"


def test_an_unknown_file_is_other_with_low_confidence() -> None:
    verdict = classify("blob.xyz")
    assert verdict.artifact_type == "other"
    assert verdict.confidence < 0.5


def test_confidences_stay_between_zero_and_one() -> None:
    for name in ["a.mp4", "paper thesis journal.pdf", "x", "slides talk deck.pptx"]:
        assert 0.0 < classify(name).confidence <= 1.0
