"""The binary benchmark's grouping and table: each entry lands in its part."""

from __future__ import annotations

from typing import Any

from benchmarks import binary_bench
from benchmarks.common import machine, versions


def test_archive_entries_are_grouped_by_the_part_of_the_app_they_belong_to() -> None:
    component = binary_bench._component
    assert component("PySide6/Qt/lib/libQt6Core.so.6") == "Qt lib"
    assert component("PySide6/Qt/plugins/platforms/libqxcb.so") == "Qt plugins"
    assert component("PySide6/QtWidgets.abi3.so") == "PySide6 bindings"
    assert component("libpython3.11.so.1.0") == "libpython"
    assert component("libgtk-3.so.0") == "system libraries (bundled)"
    assert component("scipy.libs/libopenblas.so") == "scipy (native libs)"
    assert component("scipy/linalg/_flapack.so") == "scipy"
    assert component("python3.11/lib-dynload/_ssl.so") == "Python standard library"
    assert binary_bench._module_component("json.decoder") == "Python standard library"
    assert binary_bench._module_component("sklearn.base") == "sklearn"


def _build(mb: float, **parts: float) -> dict[str, Any]:
    components = {name: int(size * binary_bench.MB) for name, size in parts.items()}
    return {"mb": mb, "components": components}


def test_the_table_shows_the_parts_the_trim_changed_beside_the_biggest() -> None:
    before = _build(30.0, scipy=18.0, googleapiclient=10.0, Qt_translations=2.0)
    after = _build(18.1, scipy=18.0, googleapiclient=0.1)
    result = {
        "date": "now",
        "machine": machine(),
        "versions": versions(),
        "after": after,
        "before": before,
    }
    table = binary_bench.markdown(result)
    assert "| googleapiclient | 10.0 | 0.1 |" in table
    assert "| Qt_translations | 2.0 | 0.0 |" in table
    assert "| **whole file** | **30.0** | **18.1** |" in table
    assert "the build it is compared with was 30.0 MB" in table


def test_the_table_says_what_is_unpacked_at_start_and_on_first_import() -> None:
    before = _build(30.0, scipy=18.0) | {
        "unpacked_at_start_mb": 290.0,
        "unpacked_on_import_mb": 0.0,
    }
    after = _build(30.1, scipy=18.0) | {
        "unpacked_at_start_mb": 183.1,
        "unpacked_on_import_mb": 176.0,
    }
    result = {
        "date": "now",
        "machine": machine(),
        "versions": versions(),
        "after": after,
        "before": before,
    }
    table = binary_bench.markdown(result)
    assert (
        "At every start it writes 183.1 MB into its temporary folder "
        "(before: 290.0 MB); 176.0 MB more is unpacked there when the packages "
        "holding it are first imported." in table
    )
    del after["unpacked_at_start_mb"]
    assert "At every start" not in binary_bench.markdown(result)
