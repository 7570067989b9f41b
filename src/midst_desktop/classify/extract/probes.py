"""Test-only formats that exhaust the extraction worker's memory or CPU limit.

No real file trips those limits cheaply and reliably, so the tests that show
the limits hold use these. They exist only while MIDST_EXTRACT_PROBES=1 is
in the environment of the process that starts the worker.
"""

from __future__ import annotations

import os
import time

from midst_desktop.classify.extract.base import Extraction

PROBES_VARIABLE = "MIDST_EXTRACT_PROBES"
MEMORY_PROBE = "midst-probe-memory"
CPU_PROBE = "midst-probe-cpu"
PROBE_FORMATS = frozenset([MEMORY_PROBE, CPU_PROBE])

# Without a limit the probes stop here and succeed, which fails their tests
# without harming the machine: the memory is reserved, never touched.
MEMORY_PROBE_BYTES = 16 * 1024**3
MEMORY_PROBE_STEP = 64 * 1024**2
CPU_PROBE_SECONDS = 30.0


def probes_enabled() -> bool:
    return os.environ.get(PROBES_VARIABLE) == "1"


def run_probe(fmt: str) -> Extraction:
    """Reserve memory or spin until a limit stops this; raises MemoryError."""
    if fmt == MEMORY_PROBE:
        held: list[bytes] = []
        while len(held) * MEMORY_PROBE_STEP < MEMORY_PROBE_BYTES:
            held.append(bytes(MEMORY_PROBE_STEP))  # calloc: address space only
        return Extraction(format=fmt, text=f"reserved {len(held)} blocks unhindered")
    started = time.process_time()
    spins = 0
    while time.process_time() - started < CPU_PROBE_SECONDS:
        spins += 1
    return Extraction(format=fmt, text=f"spun {spins} times unhindered")
