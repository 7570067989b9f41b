"""Content rules for the kinds the name gets wrong: each on a sample file it makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from midst_desktop.classify.extract import extract_file
from midst_desktop.classify.rules import Classification, classify
from tests.support import samples


def verdict_for(
    tmp_path: Path, name: str, content: bytes | str, folder: str = ""
) -> Classification:
    """Write the file, extract it as the worker would and classify it."""
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    extraction: Any = extract_file(path)
    assert not extraction.failed, extraction.error
    relative = f"{folder}/{name}" if folder else name
    return classify(name, relative, None, path.read_bytes()[:8192], extraction)


# -- code with more words than punctuation ------------------------------------

DOCUMENTED = '''"""
Transport adapters.

This module holds the adapters that the session uses to send requests and
to keep connections open between them. Each adapter is given a pool of
connections, and it decides when a connection may be reused and when it
has to be opened again, which depends on the scheme, the host and the
port of the request, and on whether a proxy sits in between.
"""

import socket
from collections import namedtuple

Retry = namedtuple("Retry", "total backoff")


class Adapter:
    """Sends one request over a pooled connection and returns the answer.

    The adapter keeps no state between requests other than its pool, so
    one adapter may be shared by every session of a program.
    """
'''


def test_documented_code_with_little_punctuation_is_code(tmp_path: Path) -> None:
    verdict = verdict_for(tmp_path, "adapters.py", DOCUMENTED)
    assert (verdict.artifact_type, verdict.rule) == ("code_sample", "code-statements")
    assert "Python" in verdict.reason


def test_a_poem_saved_as_code_has_no_statements(tmp_path: Path) -> None:
    verdict = verdict_for(tmp_path, "heron.py", samples.POEM * 3)
    assert verdict.artifact_type == "creative_writing"


# -- pictures drawn in characters ----------------------------------------------

DRAWING = r"""
      |\      _,,,---,,_
ZZZzz /,`.-'`'    -.  ;-;;,_
     |,4-  ) )-,_. ,\ (  `'-'
    '---''(_/--'  `-'\_)
%
   .--.
  |o_o |
  |:_/ |
 //   \ \
(|     | )
/'\_   _/`\
\___)=(___/
%
    __
 __( o)>
 \ <_ ) ~~
  `---'
"""


def test_ascii_art_is_visual_art_not_code(tmp_path: Path) -> None:
    verdict = verdict_for(tmp_path, "pictures", DRAWING)
    assert (verdict.artifact_type, verdict.rule) == ("visual_art", "text-drawing")


def test_a_framed_joke_is_not_code_without_statements(tmp_path: Path) -> None:
    framed = (
        "=" * 60
        + "\n|| The program is soon to be a Major Motion Picture! ||\n"
        + "=" * 60
        + "\n\tDirected by someone famous.\n\tStarring (in order) [a cast].\n"
        + "\tCostumes by {a tailor}; music by <a band>.\n"
    ) * 3
    verdict = verdict_for(tmp_path, "movie", framed)
    assert verdict.artifact_type != "code_sample"


# -- marked-up documents -------------------------------------------------------

HELP_PAGE = """<page xmlns="http://projectmallard.org/1.0/" type="topic" id="wifi">
  <info>
    <link type="guide" xref="net-wireless"/>
    <revision pkgversion="3.4" date="2012-02-19" status="outdated"/>
    <credit type="author"><name>A. Writer</name></credit>
    <desc>Connect to a wireless network that is not shown.</desc>
  </info>
  <title>Connect to a hidden wireless network</title>
  <p>It is possible to set up a wireless network so that it is hidden. Hidden
  networks will not show up in the list of networks that the settings show.</p>
  <steps>
    <item><p>Open the system menu from the right side of the top bar, and pick
    the entry that lists the wireless networks the computer can see.</p></item>
    <item><p>Press the button to connect to a hidden network and type the name
    of the network, then choose the kind of security it uses.</p></item>
  </steps>
</page>
"""


def test_a_help_page_in_xml_is_a_document_not_writing(tmp_path: Path) -> None:
    verdict = verdict_for(tmp_path, "net-wireless-hidden.page", HELP_PAGE)
    assert (verdict.artifact_type, verdict.rule) == ("other", "markup-document")


def test_an_xml_guide_page_of_links_is_a_document(tmp_path: Path) -> None:
    # Declared as XML, in German, and mostly link titles: few sentences, but
    # its tags are a document's (page, info, credit, title, links).
    credits = "".join(
        f'<credit type="translator"><name>Person {n}</name>'
        f"<email>p{n}@example.org</email><years>2011-2022</years></credit>\n"
        for n in range(8)
    )
    page = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<page xmlns="http://projectmallard.org/1.0/" type="guide" id="shell">\n'
        f'<info><link type="guide" xref="index"/>{credits}</info>\n'
        "<title>Ihre Arbeitsumgebung</title>\n"
        '<links type="topic" groups="apps"><title>Anwendungen und Fenster</title>'
        "</links>\n</page>\n"
    )
    verdict = verdict_for(tmp_path, "shell-overview.page", page)
    assert (verdict.artifact_type, verdict.rule) == ("other", "markup-document")


def test_xml_records_are_data(tmp_path: Path) -> None:
    rows = "".join(
        f'  <station id="S{n}"><lat>{50 + n / 10}</lat><lon>{4 + n / 7:.3f}</lon>'
        f"<level>{n * 3}</level></station>\n"
        for n in range(40)
    )
    verdict = verdict_for(tmp_path, "stations.txt", f"<stations>\n{rows}</stations>\n")
    assert (verdict.artifact_type, verdict.rule) == ("dataset", "markup-data")
    # A licence in a comment is not the file's prose.
    locale = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE ldml SYSTEM "ldml.dtd">\n'
        "<!-- Copyright 1991-2022 the data project. For terms of use, see the\n"
        "licence file. The data files are read according to the specification\n"
        "that the project publishes, which says what every element means. -->\n"
        '<ldml><identity><version number="41"/><language type="en"/>'
        '<territory type="KE"/></identity>\n'
        + "".join(
            f'<month type="{n}">{name}</month>\n'
            for n, name in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun"])
        )
        + "</ldml>\n"
    )
    verdict = verdict_for(tmp_path, "en_KE.xml", locale)
    assert (verdict.artifact_type, verdict.rule) == ("dataset", "markup-data")


# -- tables with comments ------------------------------------------------------

DATA_FILE = (
    "# Widths-1.0.txt\n# Date: 2022-02-14\n#\n"
    "# This file gives the display width of each character range.\n"
    "# Format: code point range ; width # general category and name\n#\n"
    + "".join(
        f"{0x1100 + 16 * n:04X}..{0x110F + 16 * n:04X} ; {'WNA'[n % 3]} "
        f"# Lo  [16] HANGUL SYLLABLE GROUP {n}\n"
        for n in range(40)
    )
    + "\n# EOF\n"
)


def test_a_commented_table_saved_as_text_is_a_dataset(tmp_path: Path) -> None:
    verdict = verdict_for(tmp_path, "Widths.txt", DATA_FILE)
    assert (verdict.artifact_type, verdict.rule) == ("dataset", "text-records")


def test_a_list_of_code_points_is_a_dataset(tmp_path: Path) -> None:
    listing = "# Exclusions\n# One code point a line.\n\n" + "".join(
        f"{0x0958 + n:04X}    #  DEVANAGARI LETTER {n}\n" for n in range(30)
    )
    verdict = verdict_for(tmp_path, "Exclusions.txt", listing)
    assert (verdict.artifact_type, verdict.rule) == ("dataset", "text-records")


def test_prose_with_commas_is_not_a_table(tmp_path: Path) -> None:
    verdict = verdict_for(tmp_path, "heron.txt", samples.POEM * 3)
    assert verdict.artifact_type == "creative_writing"


# -- templates and forms -------------------------------------------------------


def test_a_text_template_is_other(tmp_path: Path) -> None:
    paragraphs = ["<Title>", "#date#", "<Location>", "Minutes", "<Attendees>"]
    data = samples.odt(paragraphs, title="Agenda", template=True)
    verdict = verdict_for(tmp_path, "agenda.ott", data)
    assert (verdict.artifact_type, verdict.rule) == ("other", "document-template")
    # Known by its name alone, too, as the sync engine sees a listed file.
    assert classify("letter.ott").artifact_type == "other"


def test_a_short_document_of_blanks_is_a_form(tmp_path: Path) -> None:
    paragraphs = ["<FirstName> <LastName>", "<Street>", "<City>", "Dear <Name>,"]
    verdict = verdict_for(tmp_path, "letter.docx", samples.docx(paragraphs))
    assert (verdict.artifact_type, verdict.rule) == ("other", "text-form")


# -- manuals and papers among PDFs and e-books ---------------------------------


def test_documentation_of_tex_macros_is_not_a_paper(tmp_path: Path) -> None:
    page = [
        "The footnote package",
        "Abstract",
        "This package adds \\footnoterange and \\footnoterangeref.",
        "Load it with \\usepackage{footnoterange} and use \\footnote as before;",
        "\\footnoterange* leaves out the hyperlinks, \\setfnrange sets the format.",
    ]
    verdict = verdict_for(tmp_path, "footnoterange.pdf", samples.pdf([page] * 2))
    assert (verdict.artifact_type, verdict.rule) == ("other", "text-tex-macros")


def test_an_abstract_without_citations_is_not_enough_for_a_paper(
    tmp_path: Path,
) -> None:
    page = [
        "Reading data into the library",
        "Abstract",
        "This note shows how files are read into series objects.",
    ]
    verdict = verdict_for(tmp_path, "read.pdf", samples.pdf([page] * 3))
    assert verdict.artifact_type != "academic_paper"
    cited = [
        *page,
        "Earlier methods (Smith 2004) were slow; see Jones and Brown (2011).",
        "Zeileis et al. proposed the class in (Zeileis, 2005).",
    ]
    verdict = verdict_for(tmp_path, "read2.pdf", samples.pdf([cited] * 3))
    assert (verdict.artifact_type, verdict.rule) == (
        "academic_paper",
        "paper-one-section",
    )


def test_many_citations_make_a_paper_without_headings(tmp_path: Path) -> None:
    page = [
        "Penalized least squares for mixed models",
        "Mixed models (Bates 2010) are fitted by penalized least squares",
        "as in Henderson (1984) and Harville (1977); et al. extended them",
        "to generalized models (Breslow and Clayton, 1993).",
    ]
    verdict = verdict_for(tmp_path, "pls.pdf", samples.pdf([page] * 5))
    assert (verdict.artifact_type, verdict.rule) == (
        "academic_paper",
        "paper-citations",
    )


def test_an_ebook_titled_as_a_manual_is_other(tmp_path: Path) -> None:
    chapters = ["About this manual\nHow to build a live system."]
    data = samples.epub("Live Systems Manual", "The Project", chapters)
    verdict = verdict_for(tmp_path, "live.epub", data)
    assert (verdict.artifact_type, verdict.rule) == ("other", "title-manual")


def test_an_ebook_of_numbered_sections_is_a_manual(tmp_path: Path) -> None:
    toc = "\n".join(
        f"{chapter}.{section} Configuring part {chapter}-{section}"
        for chapter in range(1, 6)
        for section in range(1, 5)
    )
    data = samples.epub("Podręcznik", "Projekt", [toc, "Treść rozdziału."])
    verdict = verdict_for(tmp_path, "podrecznik.epub", data)
    assert (verdict.artifact_type, verdict.rule) == ("other", "text-numbered-sections")
    novel = samples.epub("The Lighthouse", "A. Writer", ["Chapter 1\nThe storm came."])
    assert verdict_for(tmp_path, "novel.epub", novel).artifact_type != "other"


def test_a_rotated_slide_pdf_is_a_presentation(tmp_path: Path) -> None:
    pages = [[f"Slide {n}", "A point"] for n in range(6)]
    data = samples.pdf(pages, size=(595, 842), rotate=90)
    verdict = verdict_for(tmp_path, "tour.pdf", data)
    assert (verdict.artifact_type, verdict.rule) == ("presentation", "pdf-landscape")


# -- pictures whatever their folder is called ----------------------------------


def test_a_picture_in_a_data_or_abstract_folder_stays_a_picture(
    tmp_path: Path,
) -> None:
    for folder in ("examples/data", "backgrounds/abstract"):
        verdict = verdict_for(tmp_path, "fruits.png", samples.png(640, 480), folder)
        assert verdict.artifact_type == "visual_art", folder
    # A document still takes its kind from such words.
    assert classify("thesis.docx", "papers/thesis.docx").artifact_type == (
        "academic_paper"
    )


def test_r_data_files_are_datasets() -> None:
    assert classify("Affairs.rda", "AER/data/Affairs.rda").artifact_type == "dataset"
    assert classify("session.RData").artifact_type == "dataset"


def test_names_of_manuals_forms_and_receipts_say_other() -> None:
    for name in ["User Manual.docx", "Invoice 2024-03.pdf", "meeting minutes.txt"]:
        verdict = classify(name, f"Documents/{name}")
        assert verdict.artifact_type == "other", name
    # Writing words still win in a folder of their own.
    assert classify("chapter one.docx", "Novel/chapter one.docx").artifact_type == (
        "creative_writing"
    )
