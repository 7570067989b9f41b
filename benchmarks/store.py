"""A store with many artifacts, built fast by direct inserts into the real schema."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.tree import TreeSpec, plan
from midst_desktop.classify.rules import EXTENSION_TYPES
from midst_desktop.config import ensure_dirs, load_settings
from midst_desktop.store.db import open_database
from midst_desktop.store.models import SQLITE_DATETIME_FORMAT, Integration
from midst_desktop.sync.engine import ARTIFACT_COLUMNS

INTEGRATIONS = 3
STATUS_WEIGHTS = {"pending": 55, "approved": 25, "rejected": 10, "archived": 10}
CHUNK = 50_000
BODY_WORDS = 24
# Words put into a share of the extracted texts, so a search can be timed on a
# common word, a middling one, a rare one and one that matches nothing.
SEARCH_SHARES = {"method": 0.25, "ledger": 0.01, "sonnet": 0.0005}
SEARCH_MISS = "xylophonic"
# Filler words are three of these in a row: 21,952 made-up words.
SYLLABLE_TEXT = (
    "ka lo mi ne ru sa ti vo pe da gu fi ho ze ba ly cu wo je xa qi an el or um ist "
    "ent ar"
)
SYLLABLES = SYLLABLE_TEXT.split()


def _time(nanoseconds: int) -> str:
    moment = datetime.fromtimestamp(nanoseconds / 1e9, UTC).replace(tzinfo=None)
    return moment.strftime(SQLITE_DATETIME_FORMAT)


def ensure_store(work: Path, artifacts: int) -> Path:
    """A data dir whose SQLite store holds `artifacts` artifacts; made once."""
    data_dir = work / "stores" / f"artifacts{artifacts}"
    marker = data_dir / "built.json"
    wanted = {"artifacts": artifacts, "texts": BODY_WORDS}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        _migrate(data_dir)
        return data_dir
    if data_dir.exists():
        shutil.rmtree(data_dir)
    print(f"building a store of {artifacts:,} artifacts", flush=True)
    settings = load_settings(data_dir=str(data_dir), environ={})
    ensure_dirs(settings)
    database = open_database(settings.database_url)
    with database.write() as session:
        for number in range(INTEGRATIONS):
            session.add(
                Integration(
                    provider="local",
                    display_name=f"Folder {number + 1}",
                    root_path=f"/home/person/Folder {number + 1}",
                    folder_config={},
                )
            )
    database.dispose()
    assert database.sqlite_path is not None
    _insert_artifacts(database.sqlite_path, artifacts)
    marker.write_text(json.dumps(wanted))
    return data_dir


def _migrate(data_dir: Path) -> None:
    """Bring a kept store to the newest schema, as the app would at start."""
    settings = load_settings(data_dir=str(data_dir), environ={})
    open_database(settings.database_url).dispose()
    for copy in data_dir.glob("midst.before-*.db"):
        copy.unlink()


def _insert_artifacts(path: Path, artifacts: int) -> None:
    rng = random.Random(7)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    columns = ARTIFACT_COLUMNS.split(", ")
    insert = (
        f"INSERT INTO artifacts ({ARTIFACT_COLUMNS}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    spec = TreeSpec(artifacts, max(1, artifacts // 20))
    created = _time(1_764_547_200 * 10**9)

    def rows() -> object:
        for planned in plan(spec):
            name = planned.path.rpartition("/")[2]
            extension = name.rpartition(".")[2].lower()
            artifact_type, confidence = EXTENSION_TYPES.get(extension, ("other", 0.3))
            modified = _time(planned.modified_ns)
            yield (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                planned.index % INTEGRATIONS + 1,
                "local",
                planned.path,
                "/home/person/" + planned.path,
                name,
                name.rpartition(".")[0],
                "application/octet-stream",
                planned.size,
                None,
                str(artifact_type),
                confidence,
                "rules",
                rng.choices(statuses, weights)[0],
                True,
                modified,
                modified,
                created,
                created,
                False,
                "[]",
                "[]",
                "[]",
                "{}",
            )

    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        # Building the fixture is not what is measured: no fsync while filling it.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.executemany(insert, rows())  # type: ignore[arg-type]
        conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO artifact_texts (artifact_id, title, body) "
            "SELECT id, title, ? FROM artifacts WHERE rowid = ?",
            ((_body(rng), number + 1) for number in range(artifacts)),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _body(rng: random.Random) -> str:
    """Extracted text: made-up filler words and, by their shares, the search words."""
    vocabulary = len(SYLLABLES) ** 3
    words = []
    for _ in range(BODY_WORDS):
        number = rng.randrange(vocabulary)
        word = ""
        for _ in range(3):
            number, syllable = divmod(number, len(SYLLABLES))
            word += SYLLABLES[syllable]
        words.append(word)
    for word, share in SEARCH_SHARES.items():
        if rng.random() < share:
            words.insert(rng.randrange(len(words) + 1), word)
    return " ".join(words)
