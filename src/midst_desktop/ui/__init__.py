"""The desktop app: tray, review window, integrations and settings (PySide6)."""

import ctypes
import sys

if sys.version_info < (3, 12):  # pragma: no branch
    # Workaround for PySide6 6.12 on Python 3.11: some of its calls (for
    # example QCoreApplication.processEvents) return None without taking a
    # reference to it, which costs nothing where None is immortal (3.12 and
    # later) but here takes one of None's few thousand references per call,
    # until None is freed and the process aborts ("deallocating None"). None
    # is never freed in any case, so it gets a count no such leak can use up.
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 48
