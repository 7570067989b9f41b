"""Every extractor on sample files of its own format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from midst_desktop.classify.extract import extract_file
from tests.support import samples


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_pdf_gives_text_of_first_and_last_pages_page_count_and_info(
    tmp_path: Path,
) -> None:
    info = {
        "Title": "Grain Size and Stability",
        "Author": "A. Researcher; B. Colleague",
        "Keywords": "sediments, grain size",
        "CreationDate": "D:20210314152233+01'00'",
    }
    pages = [samples.PAPER, ["Second page text"], ["Third page"], ["Fourth page"]]
    result = extract_file(write(tmp_path, "paper.pdf", samples.pdf(pages, info)))

    assert result.error is None
    assert result.format == "pdf"
    assert result.metadata["pages"] == 4
    assert result.title == "Grain Size and Stability"
    assert result.authors == ["A. Researcher", "B. Colleague"]
    assert result.keywords == ["sediments", "grain size"]
    assert result.captured == datetime(2021, 3, 14, 15, 22, 33, tzinfo=UTC)
    assert "cyclic load" in result.text
    assert "Second page text" in result.text
    assert "Third page" not in result.text  # the first pages and the last only
    assert "Fourth page" in result.text
    assert result.metadata["doi"] == "10.1234/sed.2021.042"
    assert result.metadata["sections"] == ["abstract", "references"]
    assert result.metadata["landscape"] is False


def test_a_landscape_pdf_is_marked_as_such(tmp_path: Path) -> None:
    data = samples.pdf([["Slide one"], ["Slide two"]], size=(960, 540))
    result = extract_file(write(tmp_path, "deck.pdf", data))
    assert result.metadata["landscape"] is True
    assert result.metadata["width"] == 960


def test_a_portrait_page_turned_on_its_side_is_landscape(tmp_path: Path) -> None:
    # Slides made on a portrait sheet and shown rotated by /Rotate 90.
    data = samples.pdf([["Slide one"], ["Slide two"]], size=(595, 842), rotate=90)
    result = extract_file(write(tmp_path, "deck.pdf", data))
    assert (result.metadata["width"], result.metadata["height"]) == (842, 595)
    assert result.metadata["landscape"] is True
    data = samples.pdf([["Page one"]], size=(842, 595), rotate=90)
    assert extract_file(write(tmp_path, "p.pdf", data)).metadata["landscape"] is False


def test_docx_gives_text_properties_and_counts(tmp_path: Path) -> None:
    data = samples.docx(
        ["The Lighthouse Keeper", "Chapter One", "The storm came in from the west."],
        title="The Lighthouse Keeper",
        creator="Ada Writer",
    )
    result = extract_file(write(tmp_path, "story.docx", data))
    assert result.error is None
    assert result.format == "docx"
    assert result.title == "The Lighthouse Keeper"
    assert result.authors == ["Ada Writer"]
    assert result.captured == datetime(2021, 3, 14, 9, 30, tzinfo=UTC)
    assert result.metadata["pages"] == 2
    assert result.metadata["application"] == "Microsoft Office Word"
    assert result.text.splitlines() == [
        "The Lighthouse Keeper",
        "Chapter One",
        "The storm came in from the west.",
    ]


def test_pptx_counts_slides_and_reads_their_text(tmp_path: Path) -> None:
    slides = [["Results", "Grain size"], ["Method"], ["Questions?"]]
    result = extract_file(write(tmp_path, "talk.pptx", samples.pptx(slides)))
    assert result.format == "pptx"
    assert result.metadata["slides"] == 3
    assert result.title == "Results"  # no title property: the first slide's line
    assert "Questions?" in result.text


def test_xlsx_names_its_sheets_and_their_size(tmp_path: Path) -> None:
    data = samples.xlsx(["Field", "Lab"], ["site", "depth"], rows=120, columns="F")
    result = extract_file(write(tmp_path, "budget.xlsx", data))
    assert result.format == "xlsx"
    assert result.metadata["sheets"] == 2
    assert result.metadata["sheet_names"] == ["Field", "Lab"]
    assert (result.metadata["rows"], result.metadata["columns"]) == (120, 6)
    assert result.text.split() == ["site", "depth"]


def test_odt_reads_mixed_content_and_its_meta(tmp_path: Path) -> None:
    data = samples.odt(["Layered sediments", "River deltas"], "Notes", "B. Colleague")
    result = extract_file(write(tmp_path, "notes.odt", data))
    assert result.error is None
    assert result.format == "odt"
    assert result.text.splitlines() == ["Layered sediments", "River deltas"]
    assert result.title == "Notes"
    assert result.authors == ["B. Colleague"]
    assert result.keywords == ["sediments"]
    assert result.metadata["pages"] == 3
    assert result.captured == datetime(2020, 11, 2, 8, 15, tzinfo=UTC)


def test_odp_counts_pages_as_slides(tmp_path: Path) -> None:
    data = samples.odp([["Opening"], ["Middle"], ["End"], ["Thanks"]], "Seminar")
    result = extract_file(write(tmp_path, "seminar.odp", data))
    assert result.format == "odp"
    assert result.metadata["slides"] == 4
    assert "Thanks" in result.text


def test_ods_counts_sheets(tmp_path: Path) -> None:
    data = samples.ods({"Depths": [["site", "depth"], ["S1", "0.5"]], "Notes": []})
    result = extract_file(write(tmp_path, "field.ods", data))
    assert result.format == "ods"
    assert result.metadata["sheets"] == 2
    assert result.metadata["sheet_names"] == ["Depths", "Notes"]


def test_epub_reads_the_package_and_first_chapters(tmp_path: Path) -> None:
    data = samples.epub(
        "The Heron", "Ada Writer", ["Once upon a time.", "The end."], "9780306406157"
    )
    result = extract_file(write(tmp_path, "heron.epub", data))
    assert result.error is None
    assert result.format == "epub"
    assert result.title == "The Heron"
    assert result.authors == ["Ada Writer"]
    assert result.metadata["isbn"] == "9780306406157"
    assert result.metadata["language"] == "en"
    assert "Once upon a time." in result.text
    assert "margin" not in result.text  # styles are not text


def test_markdown_title_comes_from_its_first_heading(tmp_path: Path) -> None:
    text = "# Field Notes\n\nSome *notes* on the delta.\n\n- one\n- two\n"
    result = extract_file(write(tmp_path, "notes.md", text))
    assert result.format == "markdown"
    assert result.title == "Field Notes"
    assert result.metadata["words"] == 12


def test_latex_gives_title_authors_and_document_class(tmp_path: Path) -> None:
    text = (
        "\\documentclass[11pt]{article}\n\\title{Grain Size \\emph{Matters}}\n"
        "\\author{A. Researcher \\and B. Colleague}\n\\begin{document}\n"
        "\\begin{abstract}We measure.\\end{abstract}\n\\end{document}\n"
    )
    result = extract_file(write(tmp_path, "paper.tex", text))
    assert result.format == "latex"
    assert result.title == "Grain Size Matters"
    assert result.authors == ["A. Researcher", "B. Colleague"]
    assert result.metadata["subject"] == "article"
    assert result.metadata["sections"] == ["abstract"]


def test_source_code_gets_its_language_by_name_and_a_code_score(
    tmp_path: Path,
) -> None:
    code = "def fit(points):\n    return [(x, y * 2) for x, y in points if x > 0]\n"
    result = extract_file(write(tmp_path, "fit.py", code))
    assert result.format == "code"
    assert result.metadata["language"] == "Python"
    assert result.metadata["code_score"] > 0.1

    poem = extract_file(write(tmp_path, "poem.py", samples.POEM))
    assert poem.metadata["code_score"] < 0.02  # named as code, reads as prose


def test_a_script_without_extension_is_known_by_its_interpreter(
    tmp_path: Path,
) -> None:
    script = "#!/usr/bin/env python3\nimport sys\nprint(sys.argv[1:])\n"
    result = extract_file(write(tmp_path, "run-report", script))
    assert result.format == "code"
    assert result.metadata["language"] == "Python"


def test_plain_text_in_a_legacy_encoding_is_read(tmp_path: Path) -> None:
    text = "Caf\xe9 au lait, cr\xe8me br\xfbl\xe9e.\nSecond line.\n"
    result = extract_file(write(tmp_path, "menu.txt", text.encode("cp1252")))
    assert result.error is None
    assert "Café au lait" in result.text


def test_jpeg_photo_gives_dimensions_camera_date_and_gps_presence(
    tmp_path: Path,
) -> None:
    result = extract_file(write(tmp_path, "IMG_2041.JPG", samples.photo_jpeg()))
    assert result.error is None
    assert result.format == "jpeg"
    assert (result.metadata["width"], result.metadata["height"]) == (320, 240)
    assert result.metadata["camera"] == "Canon EOS 350D DIGITAL"
    assert result.metadata["gps"] is True
    assert result.captured == datetime(2019, 7, 21, 18, 4, 10, tzinfo=UTC)
    assert "52" not in str(result.metadata_json())  # presence only, no position


def test_png_gives_dimensions_and_no_camera(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "gradient.png", samples.png(200, 100)))
    assert result.metadata == {"width": 200, "height": 100}


def test_mp3_gives_duration_and_id3_tags(tmp_path: Path) -> None:
    path = tmp_path / "interview.mp3"
    samples.mp3(path, frames=383, title="Interview", artist="Ada Writer")
    result = extract_file(path)
    assert result.error is None
    assert result.title == "Interview"
    assert result.metadata["artist"] == "Ada Writer"
    assert result.metadata["duration_seconds"] == pytest.approx(10.0, abs=0.2)
    assert result.captured is not None and result.captured.year == 2018
    assert result.metadata["has_video"] is False


def test_flac_gives_duration_and_vorbis_comments(tmp_path: Path) -> None:
    path = tmp_path / "song.flac"
    samples.flac(path, seconds=3, title="Heron Song", artist="The Waders")
    result = extract_file(path)
    assert result.error is None
    assert result.metadata["duration_seconds"] == 3.0
    assert result.title == "Heron Song"
    assert result.authors == ["The Waders"]


def test_wav_gives_duration(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "tone.wav", samples.wav(1.5)))
    assert result.metadata["duration_seconds"] == 1.5


def test_webm_gives_duration_title_and_video_track(tmp_path: Path) -> None:
    data = samples.webm(seconds=12.5, title="Performance")
    result = extract_file(write(tmp_path, "performance.webm", data))
    assert result.error is None
    assert result.metadata["duration_seconds"] == 12.5
    assert result.metadata["has_video"] is True
    assert result.title == "Performance"
    audio_only = extract_file(write(tmp_path, "a.webm", samples.webm(video=False)))
    assert audio_only.metadata["has_video"] is False


def test_avi_gives_duration(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "clip.avi", samples.avi(250, 40_000)))
    assert result.metadata["duration_seconds"] == 10.0


def test_mp4_and_m4a_give_duration_and_tags_through_mutagen(tmp_path: Path) -> None:
    clip, memo = tmp_path / "clip.mp4", tmp_path / "memo.m4a"
    samples.mp4(clip, seconds=7.5, title="Harbour at Dusk")
    samples.mp4(memo, seconds=42.25, brand=b"M4A ", title="Voice Memo")

    video, audio = extract_file(clip), extract_file(memo)

    assert (video.format, video.error) == ("mp4", None)
    assert video.metadata["duration_seconds"] == 7.5
    assert video.metadata["has_video"] is True
    assert video.title == "Harbour at Dusk"
    assert video.authors == ["Tomas Reed"]
    assert (audio.format, audio.error) == ("m4a", None)
    assert audio.metadata["duration_seconds"] == 42.25
    assert audio.metadata["has_video"] is False
    assert audio.title == "Voice Memo"


def test_csv_and_tsv_give_rows_columns_and_header(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "depths.csv", samples.csv_text(30)))
    assert result.format == "csv"
    assert (result.metadata["rows"], result.metadata["columns"]) == (31, 4)
    assert result.metadata["column_names"] == ["site", "depth_m", "grain_mm", "date"]
    tsv = samples.csv_text(5).replace(",", "\t")
    result = extract_file(write(tmp_path, "depths.tsv", tsv))
    assert (result.metadata["rows"], result.metadata["columns"]) == (6, 4)


def test_json_and_json_lines_give_records_and_keys(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "sites.json", samples.json_records(12)))
    assert result.metadata["rows"] == 12
    assert result.metadata["column_names"] == ["depth", "site"]
    lines = "\n".join(['{"a": 1}', '{"a": 2, "b": 3}']) + "\n"
    result = extract_file(write(tmp_path, "events.jsonl", lines))
    assert result.format == "jsonl"
    assert result.metadata["rows"] == 2


def test_parquet_is_known_by_its_magic(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "table.parquet", samples.parquet_like()))
    assert result.error is None
    assert result.format == "parquet"


def test_a_download_without_extension_is_extracted_by_its_content(
    tmp_path: Path,
) -> None:
    slides = extract_file(write(tmp_path, "download", samples.pptx([["A"], ["B"]])))
    assert slides.format == "pptx"
    assert slides.metadata["slides"] == 2
    paper = extract_file(write(tmp_path, "1f9a7c", samples.pdf([samples.PAPER])))
    assert paper.format == "pdf"
    book = extract_file(write(tmp_path, "file(1)", samples.epub("T", "A", ["x"])))
    assert book.format == "epub"


def test_metadata_json_holds_only_known_values(tmp_path: Path) -> None:
    result = extract_file(write(tmp_path, "IMG.jpg", samples.photo_jpeg(gps=False)))
    values = result.metadata_json()
    assert values["format"] == "jpeg"
    assert values["captured"] == "2019-07-21T18:04:10+00:00"
    assert "gps" not in values


def test_malformed_html_in_a_book_keeps_the_text_before_the_fault(
    tmp_path: Path,
) -> None:
    result = extract_file(write(tmp_path, "page.html", "<p>hello</p><![foo[ x ]]>"))
    assert result.error is None
    assert result.text == "hello"
