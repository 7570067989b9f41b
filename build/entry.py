"""Entry point of the bundled binary: the same command line as the package."""

import sys

from midst_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
