"""Every extractor on real files that others made, from pinned Debian packages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from midst_desktop.classify.extract import extract_file
from midst_desktop.classify.extract.isolation import ExtractorPool, Limits
from tests.conftest import missing
from tests.support import real_samples


@pytest.fixture(scope="module")
def real() -> dict[str, Path]:
    try:
        return real_samples.fetch()
    except real_samples.RealSampleError as error:
        missing(f"the real sample files cannot be had: {error}")
        raise AssertionError("unreachable") from None


def test_a_published_vignette_pdf_gives_pages_title_authors_and_keywords(
    real: dict[str, Path],
) -> None:
    result = extract_file(real["residual-shadings.pdf"])

    assert (result.format, result.error) == ("pdf", None)
    assert result.metadata["pages"] == 12
    assert result.title == "Residual-Based Shadings in vcd"
    assert result.authors == ["Achim Zeileis", "David Meyer", "Kurt Hornik"]
    assert "mosaic plots" in result.keywords
    assert result.captured is not None and result.captured.date() == date(2023, 2, 1)
    assert result.metadata["landscape"] is False
    assert "abstract" in result.metadata["sections"]
    assert "companion paper" in result.text


def test_an_odt_manual_gives_title_author_and_its_statistics(
    real: dict[str, Path],
) -> None:
    result = extract_file(real["api-for-odfpy.odt"])

    assert (result.format, result.error) == ("odt", None)
    assert result.title == "Application Programmer's Interface for ODFPY"
    assert result.authors == ["Søren Roug"]
    assert result.metadata["pages"] == 104
    assert result.metadata["words"] == 23705
    assert result.metadata["subject"] == "Programmer's manual"
    assert result.captured is not None and result.captured.date() == date(2007, 1, 3)
    assert "Creating a document" in result.text


def test_an_ods_spreadsheet_gives_its_sheets_and_cells(real: dict[str, Path]) -> None:
    result = extract_file(real["countrystatistics.ods"])

    assert (result.format, result.error) == ("ods", None)
    assert result.metadata["sheets"] == 2
    assert result.metadata["sheet_names"] == ["Population", "HDI"]
    assert result.authors == ["Søren Roug"]
    assert "Austria" in result.text and "Belgium" in result.text


def test_an_epub_manual_gives_title_author_language_and_date(
    real: dict[str, Path],
) -> None:
    result = extract_file(real["live-manual.en.epub"])

    assert (result.format, result.error) == ("epub", None)
    assert result.title == "Live Systems Manual"
    assert result.authors == ["Live Systems Project <debian-live@lists.debian.org>"]
    assert result.metadata["language"] == "en"
    assert result.captured is not None and result.captured.date() == date(2015, 9, 22)
    assert "About this manual" in result.text


def test_a_camera_jpeg_gives_dimensions_camera_date_and_gps(
    real: dict[str, Path],
) -> None:
    result = extract_file(real["sample1.jpg"])

    assert (result.format, result.error) == ("jpeg", None)
    assert (result.metadata["width"], result.metadata["height"]) == (500, 375)
    assert result.metadata["camera"] == "NIKON D2H"
    assert result.metadata["gps"] is True
    assert result.captured is not None and result.captured.date() == date(2003, 11, 23)


def test_an_ogg_sound_gives_its_duration(real: dict[str, Path]) -> None:
    result = extract_file(real["alarm-clock-elapsed.oga"])

    assert (result.format, result.error) == ("ogg", None)
    assert result.metadata["duration_seconds"] == pytest.approx(6.13, abs=0.01)
    assert result.metadata["has_video"] is False


def test_a_published_csv_gives_rows_and_named_columns(real: dict[str, Path]) -> None:
    result = extract_file(real["penguins.csv"])

    assert (result.format, result.error) == ("csv", None)
    assert (result.metadata["rows"], result.metadata["columns"]) == (345, 8)
    assert result.metadata["column_names"][:3] == [
        "species",
        "island",
        "bill_length_mm",
    ]
    assert "Adelie" in result.text


def test_go_source_is_code_with_its_language(real: dict[str, Path]) -> None:
    result = extract_file(real["exif.go"])

    assert (result.format, result.error) == ("code", None)
    assert result.metadata["language"] == "Go"
    assert "package exif" in result.text


def test_real_jpegs_made_to_break_exif_readers_cost_at_most_themselves(
    real: dict[str, Path],
) -> None:
    # Files a Go EXIF library keeps to catch its own hangs and huge allocations.
    with ExtractorPool(Limits(timeout_seconds=30)) as pool:
        huge_tag = pool.extract(real["huge_tag_exif.jpg"])
        endless = pool.extract(real["infinite_loop_exif.jpg"])
        after = pool.extract(real["sample1.jpg"])
        assert pool.restarts == 0

    assert huge_tag.error == "not a readable image (Truncated File Read)"
    assert endless.error is None
    assert (endless.metadata["width"], endless.metadata["height"]) == (8, 8)
    assert after.metadata["camera"] == "NIKON D2H"
