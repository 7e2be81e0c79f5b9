"""``python -m minicnn.assignments ...``: the same as ``minicnn assignment ...``."""

import sys

from minicnn.assignments.cli import main

if __name__ == "__main__":
    sys.exit(main())
