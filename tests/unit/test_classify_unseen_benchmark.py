"""The unseen-set benchmark: a package's files laid out, checked and scored."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from benchmarks import classify_unseen_bench, corpus, unseen
from benchmarks.corpus import CorpusError, FileSet, Pick

from midst_desktop.classify.calibration import shipped
from tests.conftest import missing

POEM = """The heron waits where the winter river bends,
grey on grey, a question no one asks;
the water keeps its counsel, and the light
goes down behind the alders, one by one.
"""
TABLE = "year,station,rainfall_mm\n" + "".join(
    f"{1990 + n},S{n % 4},{400 + 7 * n}\n" for n in range(40)
)
SCRIPT = '''"""Sum the rainfall per station."""

import csv
import sys


def totals(path: str) -> dict[str, float]:
    result: dict[str, float] = {}
    with open(path, newline="") as stream:
        for row in csv.DictReader(stream):
            result[row["station"]] = result.get(row["station"], 0.0) + float(
                row["rainfall_mm"]
            )
    return result


if __name__ == "__main__":
    print(totals(sys.argv[1]))
'''


def _package(tmp_path: Path) -> Path:
    """A real .deb of three files, where `apt-get download` would have put it."""
    if shutil.which("dpkg-deb") is None:
        missing("dpkg-deb is not installed")
    tree = tmp_path / "tree"
    share = tree / "usr" / "share" / "rainfall"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN" / "control").write_text(
        "Package: rainfall\nVersion: 1:2.0-1\nArchitecture: all\n"
        "Maintainer: Nobody <nobody@example.org>\nDescription: test package\n"
    )
    (share / "data").mkdir(parents=True)
    (share / "data" / "rain.csv").write_text(TABLE)
    (share / "poems").mkdir()
    (share / "poems" / "heron.txt").write_text(POEM)
    (share / "sum_rain.py").write_text(SCRIPT)
    debs = tmp_path / "debs"
    debs.mkdir()
    deb = debs / (corpus.deb_name("rainfall", "1:2.0-1") + "all.deb")
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)],
        check=True,
        capture_output=True,
    )
    return debs


def _file_set(tmp_path: Path, poem_type: str = "creative_writing") -> FileSet:
    debs = _package(tmp_path)
    return FileSet(
        name="unseen",
        manifest=tmp_path / "manifest.json",
        folder=tmp_path / "files",
        sources=lambda: {
            "rainfall": (
                "1:2.0-1",
                [
                    Pick("usr/share/rainfall/data/*.csv", "dataset"),
                    Pick("usr/share/rainfall/poems/*", poem_type),
                    Pick("usr/share/rainfall/*.py", "code_sample"),
                ],
            )
        },
        description="test set",
        debs=debs,
        unpacked=tmp_path / "unpacked",
    )


def test_the_picks_become_a_manifest_and_the_files_are_laid_out_checked(
    tmp_path: Path,
) -> None:
    files = _file_set(tmp_path)

    assert files.select() == 3
    manifest = json.loads(files.manifest.read_text())
    assert manifest["packages"] == {"rainfall": "1:2.0-1"}
    assert {(e["path"], e["artifact_type"]) for e in manifest["files"]} == {
        ("usr/share/rainfall/data/rain.csv", "dataset"),
        ("usr/share/rainfall/poems/heron.txt", "creative_writing"),
        ("usr/share/rainfall/sum_rain.py", "code_sample"),
    }
    shutil.rmtree(files.unpacked)

    assert files.assemble() == 3
    poem = files.folder / "rainfall" / "usr/share/rainfall/poems/heron.txt"
    assert poem.read_text() == POEM
    # Unpacked trees are not kept once the files are copied.
    assert not (files.unpacked / "rainfall").exists()


def test_a_file_whose_bytes_differ_from_the_manifest_stops_the_run(
    tmp_path: Path,
) -> None:
    files = _file_set(tmp_path)
    files.select()
    manifest = json.loads(files.manifest.read_text())
    manifest["files"][0]["sha256"] = "0" * 64
    files.manifest.write_text(json.dumps(manifest))

    with pytest.raises(CorpusError, match=r"has SHA-256 \w+, the manifest says 0000"):
        files.assemble()


def test_the_unseen_set_scores_the_shipped_rules_and_lists_each_miss(
    tmp_path: Path,
) -> None:
    # The poem is labelled audio on purpose: a miss the report must show.
    files = _file_set(tmp_path, poem_type="audio")
    files.select()

    result = classify_unseen_bench.evaluate(files)

    ours = result["midst_desktop"]
    assert result["types"] == {"audio": 1, "code_sample": 1, "dataset": 1}
    assert ours["files"] == 3
    assert ours["recall"]["audio"] == 0.0
    misses = result["mistakes"]
    assert [m["path"] for m in misses if m["truth"] == "audio"] == [
        "usr/share/rainfall/poems/heron.txt"
    ]
    assert ours["accuracy"] == pytest.approx(1 - len(misses) / 3, abs=1e-3)
    assert sum(r["files"] for r in result["rules"].values()) == 3
    poem = next(m for m in misses if m["truth"] == "audio")
    assert poem["rule"] in result["rules"]
    # The confidence is the shipped table's, not one fitted on these files.
    calibrated = shipped()(poem["rule"], poem["raw_confidence"])
    assert poem["confidence"] == pytest.approx(calibrated, abs=2e-3)
    assert {t["name"] for t in result["targets"]} == {
        name for name, _, _ in classify_unseen_bench.MEASURES
    }
    result.update(
        date="today",
        machine={"cpus": 1, "cpu_model": "x", "memory_gib": 1, "system": "Linux"},
        versions={"python": "3"},
    )
    text = classify_unseen_bench.markdown(result)
    assert "`heron.txt` | audio |" in text
    assert "Misses (" in text


def test_the_unseen_set_shares_no_package_with_the_corpus() -> None:
    corpus_packages = set(corpus.load_manifest()["packages"])  # type: ignore[arg-type]
    unseen_packages = set(unseen.UNSEEN.load_manifest()["packages"])  # type: ignore[arg-type]
    looked_at_before = {
        "gnome-devel-docs",
        "unicode-cldr-core",
        "python3-numpy",
        "fortunes-ru",
        "texlive-science-doc",
    }

    assert 6 <= len(unseen_packages) <= 12
    assert not unseen_packages & (corpus_packages | looked_at_before)
