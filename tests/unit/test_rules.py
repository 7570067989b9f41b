"""The rules classifier: formats, whole words, and sniffed content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from midst_desktop.classify.extract import extract_file
from midst_desktop.classify.rules import classify, words_of
from tests.support import samples


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


# -- content signals ----------------------------------------------------------


def extracted(tmp_path: Path, name: str, content: bytes | str) -> tuple[bytes, Any]:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path.read_bytes()[:8192], extract_file(path)


def test_slides_and_sheets_are_never_writing_even_with_their_office_mime(
    tmp_path: Path,
) -> None:
    ooxml = "application/vnd.openxmlformats-officedocument"
    head, slides = extracted(tmp_path, "talk.pptx", samples.pptx([["a"]] * 3))
    verdict = classify(
        "talk.pptx", "", f"{ooxml}.presentationml.presentation", head, slides
    )
    assert (verdict.artifact_type, verdict.rule) == ("presentation", "format-slides")
    assert "3 slides" in verdict.reason
    head, sheet = extracted(tmp_path, "s.xlsx", samples.xlsx(["A"], ["x"], 2, "B"))
    verdict = classify("s.xlsx", "", f"{ooxml}.spreadsheetml.sheet", head, sheet)
    assert verdict.artifact_type == "dataset"


def test_a_doi_with_paper_sections_makes_a_confident_paper(tmp_path: Path) -> None:
    head, paper = extracted(tmp_path, "scan0001.pdf", samples.pdf([samples.PAPER]))
    verdict = classify("scan0001.pdf", "Downloads/scan0001.pdf", None, head, paper)
    assert verdict.artifact_type == "academic_paper"
    assert verdict.rule == "paper-identifier-sections"
    assert verdict.confidence >= 0.9
    assert "DOI" in verdict.reason
    bare = classify("scan0001.pdf", "Downloads/scan0001.pdf")
    assert bare.confidence < verdict.confidence


def test_an_arxiv_id_alone_points_to_a_paper(tmp_path: Path) -> None:
    lines = ["Preprint arXiv:2101.01234v2 [cs.LG]", "On learning"]
    head, paper = extracted(tmp_path, "x.pdf", samples.pdf([lines]))
    verdict = classify("x.pdf", "", None, head, paper)
    assert (verdict.artifact_type, verdict.rule) == (
        "academic_paper",
        "paper-identifier",
    )


def test_a_landscape_pdf_of_many_pages_is_a_presentation(tmp_path: Path) -> None:
    pages = [[f"Slide {n}"] for n in range(8)]
    head, deck = extracted(tmp_path, "x.pdf", samples.pdf(pages, size=(1024, 768)))
    verdict = classify("x.pdf", "", None, head, deck)
    assert (verdict.artifact_type, verdict.rule) == ("presentation", "pdf-landscape")


def test_a_pdf_without_any_sign_is_not_called_a_paper(tmp_path: Path) -> None:
    head, manual = extracted(tmp_path, "x.pdf", samples.pdf([["Installation"]] * 2))
    verdict = classify("x.pdf", "", None, head, manual)
    assert verdict.artifact_type == "other"


def test_verse_in_a_document_is_creative_writing(tmp_path: Path) -> None:
    head, poem = extracted(
        tmp_path, "heron.docx", samples.docx(samples.POEM.split("\n"))
    )
    verdict = classify("heron.docx", "", None, head, poem)
    assert (verdict.artifact_type, verdict.rule) == ("creative_writing", "text-verse")


def test_a_camera_in_exif_makes_a_photo(tmp_path: Path) -> None:
    head, photo = extracted(tmp_path, "IMG_1.JPG", samples.photo_jpeg())
    verdict = classify("IMG_1.JPG", "", None, head, photo)
    assert (verdict.artifact_type, verdict.rule) == ("visual_art", "image-camera")
    assert "Canon EOS 350D" in verdict.reason


def test_code_needs_code_syntax_not_just_a_code_extension(tmp_path: Path) -> None:
    code = "def fit(points):\n    return [(x, y * 2) for x, y in points if x > 0]\n"
    head, program = extracted(tmp_path, "fit.py", code)
    verdict = classify("fit.py", "", None, head, program)
    assert (verdict.artifact_type, verdict.rule) == ("code_sample", "code-syntax")
    assert "Python" in verdict.reason
    head, poem = extracted(tmp_path, "heron.py", samples.POEM)
    assert classify("heron.py", "", None, head, poem).artifact_type == (
        "creative_writing"
    )


def test_a_table_saved_as_text_is_a_dataset(tmp_path: Path) -> None:
    head, table = extracted(tmp_path, "export.txt", samples.csv_text(20))
    verdict = classify("export.txt", "", None, head, table)
    assert (verdict.artifact_type, verdict.rule) == ("dataset", "content-table")


def test_beamer_sources_are_presentations(tmp_path: Path) -> None:
    tex = "\\documentclass{beamer}\n\\begin{document}\n\\frame{x}\n\\end{document}\n"
    head, slides = extracted(tmp_path, "talk.tex", tex)
    assert classify("talk.tex", "", None, head, slides).artifact_type == "presentation"


def test_a_download_without_extension_is_classified_by_its_content(
    tmp_path: Path,
) -> None:
    head, slides = extracted(tmp_path, "download", samples.pptx([["a"], ["b"]]))
    verdict = classify("download", "", "application/octet-stream", head, slides)
    assert verdict.artifact_type == "presentation"
    assert verdict.mime_type.endswith("presentationml.presentation")


def test_an_audio_only_webm_is_audio(tmp_path: Path) -> None:
    head, sound = extracted(tmp_path, "take.webm", samples.webm(video=False))
    assert classify("take.webm", "", None, head, sound).artifact_type == "audio"


def test_a_failed_extraction_falls_back_to_the_name(tmp_path: Path) -> None:
    head, broken = extracted(tmp_path, "talk.pptx", b"PK\x03\x04broken")
    assert broken.failed
    verdict = classify("talk.pptx", "", None, head, broken)
    assert verdict.artifact_type == "presentation"


def test_every_verdict_says_which_rule_fired_and_why(tmp_path: Path) -> None:
    for name in ["a.mp4", "paper thesis.pdf", "x", "deck.pptx", "Smart Home/x.xyz"]:
        verdict = classify(name, name)
        assert verdict.rule
        assert verdict.reason
    assert classify("x.xyz", "Smart Home/x.xyz").artifact_type != "visual_art"


def test_a_program_downloaded_without_its_name_is_still_code(tmp_path: Path) -> None:
    code = 'int main(void) {\n  for (int i = 0; i < 3; i++) { puts("x"); }\n}\n'
    head, program = extracted(tmp_path, "file(3)", code * 5)
    verdict = classify("file(3)", "", None, head, program)
    assert (verdict.artifact_type, verdict.rule) == ("code_sample", "text-code-syntax")
    head, poem = extracted(tmp_path, "file(4)", samples.POEM)
    assert classify("file(4)", "", None, head, poem).artifact_type != "code_sample"


def test_a_whitespace_table_is_a_dataset(tmp_path: Path) -> None:
    table = "Weight Waist Pulse\n" + "".join(
        f"{150 + i} {30 + i % 7} {50 + i}\n" for i in range(30)
    )
    head, data = extracted(tmp_path, "physio.txt", table)
    assert data.metadata["columns"] == 3
    assert classify("physio.txt", "", None, head, data).artifact_type == "dataset"
