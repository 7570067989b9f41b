"""Drawing a PDF's first page in a worker process: bounded, cached, never fatal."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from midst_desktop.classify.extract.preview import PageImage, PreviewRenderer
from tests.support import samples

# A landscape page whose left half is filled pure blue.
BLUE_LEFT_HALF = "0 0 1 rg 0 0 396 612 re f"


@pytest.fixture
def renderer() -> Iterator[PreviewRenderer]:
    drawing = PreviewRenderer()
    yield drawing
    drawing.close()


def pixel(page: PageImage, x: int, y: int) -> tuple[int, int, int]:
    start = y * page.stride + x * 3
    red, green, blue = page.pixels[start : start + 3]
    return red, green, blue


def write_pdf(path: Path, **options: object) -> Path:
    path.write_bytes(samples.pdf([["Layered sediments"]], **options))  # type: ignore[arg-type]
    return path


def test_the_first_page_is_drawn_to_fit_the_box(
    tmp_path: Path, renderer: PreviewRenderer
) -> None:
    path = write_pdf(tmp_path / "talk.pdf", size=(792, 612), drawing=BLUE_LEFT_HALF)

    page = renderer.render(str(path), 200)

    assert page is not None
    assert page.width == 200 and 150 <= page.height <= 156
    assert pixel(page, 20, page.height // 2) == (0, 0, 255)
    assert pixel(page, page.width - 20, page.height - 10) == (255, 255, 255)
    assert len(page.pixels) == page.stride * page.height


def test_a_page_that_claims_to_be_huge_is_still_drawn_small(
    tmp_path: Path, renderer: PreviewRenderer
) -> None:
    path = write_pdf(tmp_path / "huge.pdf", size=(14_400, 14_400))

    page = renderer.render(str(path), 224)

    assert page is not None
    assert (page.width, page.height) == (224, 224)


def test_a_damaged_pdf_gives_no_page_and_the_worker_serves_the_next(
    tmp_path: Path, renderer: PreviewRenderer
) -> None:
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(samples.pdf([["x"]])[:200])
    good = write_pdf(tmp_path / "good.pdf")

    assert renderer.render(str(damaged), 100) is None
    assert renderer.last_error
    assert renderer.render(str(good), 100) is not None
    assert renderer.restarts == 0


def test_an_encrypted_pdf_gives_no_page(
    tmp_path: Path, renderer: PreviewRenderer
) -> None:
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(samples.encrypted_pdf())

    assert renderer.render(str(locked), 100) is None


def test_a_worker_that_hangs_is_killed_at_the_timeout_and_replaced(
    tmp_path: Path,
) -> None:
    renderer = PreviewRenderer(timeout_seconds=1.0)
    try:
        assert renderer.render(str(write_pdf(tmp_path / "first.pdf")), 100)
        worker = renderer.pid
        assert worker is not None
        # A stopped process answers nothing, as a worker stuck in a page would.
        os.kill(worker, signal.SIGSTOP)

        stuck = write_pdf(tmp_path / "stuck.pdf")
        assert renderer.render(str(stuck), 100) is None
        assert renderer.last_error == "drawing took longer than 1 s"
        assert renderer.restarts == 1 and renderer.pid is None
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)  # killed and reaped, not left stopped

        # That file is not tried again until it changes; the next one is drawn
        # by a new worker.
        assert renderer.render(str(stuck), 100) is None
        assert renderer.render(str(write_pdf(tmp_path / "next.pdf")), 100)
        assert renderer.pid not in (None, worker)
    finally:
        renderer.close()


def test_a_drawn_page_is_kept_until_the_file_changes(
    tmp_path: Path, renderer: PreviewRenderer
) -> None:
    path = write_pdf(tmp_path / "cached.pdf", drawing=BLUE_LEFT_HALF)
    first = renderer.render(str(path), 120)
    assert renderer.render(str(path), 120) is first

    write_pdf(path, size=(300, 300))
    changed = renderer.render(str(path), 120)
    assert changed is not None and changed is not first
    assert (changed.width, changed.height) == (120, 120)


def test_the_cache_holds_only_a_few_pages(tmp_path: Path) -> None:
    renderer = PreviewRenderer(cache_entries=2)
    try:
        paths = [write_pdf(tmp_path / f"{n}.pdf") for n in range(3)]
        pages = [renderer.render(str(p), 60) for p in paths]
        assert renderer.render(str(paths[2]), 60) is pages[2]
        assert renderer.render(str(paths[0]), 60) is not pages[0]
    finally:
        renderer.close()


def test_what_is_not_a_regular_file_is_not_opened(
    tmp_path: Path, renderer: PreviewRenderer
) -> None:
    assert renderer.render(str(tmp_path), 100) is None
    assert renderer.render(str(tmp_path / "missing.pdf"), 100) is None
