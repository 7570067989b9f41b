"""`python -m midst_desktop`: the same command line as `midst-desktop`."""

import sys

from midst_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
