"""Helpers the Google Drive tests share: the emulator, a browser, a sample drive."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import httpx
import pytest

from midst_desktop.config import Settings
from midst_desktop.sync.cloud import GivenCredentials
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.providers.gdrive import DriveProvider
from tests.emulators.gdrive import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DOCUMENT,
    FORM,
    PRESENTATION,
    SHORTCUT,
    SPREADSHEET,
    DriveAccount,
    DriveEmulator,
)


@pytest.fixture
def drive() -> Iterator[DriveEmulator]:
    emulator = DriveEmulator().start()
    emulator.retry_after = "0"
    yield emulator
    emulator.stop()


def consent_in_browser(url: str) -> None:
    """Plays the person's browser: open the consent page, follow the redirect."""
    answer = httpx.get(url, follow_redirects=True, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "close this window" in answer.text


def drive_settings(settings: Settings, emulator: DriveEmulator) -> Settings:
    return Settings(
        **{
            **settings.__dict__,
            "gdrive_api_url": emulator.url,
            "gdrive_auth_url": emulator.url + "o/oauth2/auth",
            "gdrive_token_url": emulator.url + "token",
            "gdrive_revoke_url": emulator.url + "revoke",
            "google_client_id": DEFAULT_CLIENT_ID,
            "google_client_secret": DEFAULT_CLIENT_SECRET,
            "cloud_retry_base_ms": 1,
        }
    )


def provider(
    settings: Settings, emulator: DriveEmulator, integration_id: int | None = 1
) -> DriveProvider:
    credentials = OAuthCredentials(
        emulator.account.issue_refresh_token(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    )
    return DriveProvider(
        drive_settings(settings, emulator),
        integration_id,
        GivenCredentials(credentials),
        sleep=lambda seconds: None,
    )


@dataclass
class SampleDrive:
    """Ids of a small drive with every kind of item a sync has to decide on."""

    papers: str
    drafts: str
    thesis: str
    notes: str
    novel: str
    budget: str
    talk: str
    photo: str
    shortcut: str
    form: str
    trashed: str
    orphan: str
    in_trashed_folder: str

    # What a sync must turn into artifacts: rel path by id.
    def expected(self) -> dict[str, str]:
        return {
            self.thesis: "/Papers/thesis.pdf",
            self.notes: "/Papers/Drafts/notes.md",
            self.novel: "/Papers/Drafts/My novel",
            self.budget: "/Budget",
            self.talk: "/Papers/Conference talk",
            self.photo: "/photo.jpg",
        }


@cache
def image_bytes(kind: str) -> bytes:
    """A small real JPEG or PDF, as extraction reads the content."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, kind)
    return buffer.getvalue()


def sample_drive(account: DriveAccount) -> SampleDrive:
    papers = account.add_folder("Papers")
    drafts = account.add_folder("Drafts", papers)
    old = account.add_folder("Old stuff")
    thesis = account.add_file(
        "thesis.pdf", papers, image_bytes("PDF"), "application/pdf"
    )
    in_trashed_folder = account.add_file("old.txt", old, b"old", "text/plain")
    account.trash(old)
    return SampleDrive(
        papers=papers,
        drafts=drafts,
        thesis=thesis,
        notes=account.add_file("notes.md", drafts, b"# Notes", "text/markdown"),
        novel=account.add_file("My novel", drafts, b"Chapter one.", DOCUMENT),
        budget=account.add_file("Budget", None, b"a,b\n1,2\n", SPREADSHEET, False),
        talk=account.add_file("Conference talk", papers, b"Slide 1", PRESENTATION),
        photo=account.add_file("photo.jpg", None, image_bytes("JPEG"), "image/jpeg"),
        shortcut=account.add_file(
            "Shortcut to thesis", None, b"", SHORTCUT, target_id=thesis
        ),
        form=account.add_file("Survey", None, b"", FORM),
        trashed=_trashed(account),
        orphan=account.add_orphan("shared with me.pdf", image_bytes("PDF")),
        in_trashed_folder=in_trashed_folder,
    )


def _trashed(account: DriveAccount) -> str:
    file_id = account.add_file("deleted draft.txt", None, b"gone", "text/plain")
    account.trash(file_id)
    return file_id
