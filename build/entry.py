"""Entry point of the bundled binary: the same command line as the package."""

import multiprocessing
import os
import sys

from midst_desktop.cli import main

if __name__ == "__main__":
    # The extraction worker is this binary started again; this runs it.
    multiprocessing.freeze_support()
    if os.environ.get("MIDST_SELF_CHECK") == "1":
        # The package test's probe of what the bundle must carry; not a
        # command of the CLI, so the stable command line stays as it is.
        from midst_desktop.self_check import main as self_check

        sys.exit(self_check())
    sys.exit(main())
