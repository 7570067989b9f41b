"""Entry point of the bundled binary: the same command line as the package."""

import multiprocessing
import sys

from midst_desktop.cli import main

if __name__ == "__main__":
    # The extraction worker is this binary started again; this runs it.
    multiprocessing.freeze_support()
    sys.exit(main())
