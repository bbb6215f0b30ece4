"""``python -m gensr`` runs the command-line interface."""

import sys

from gensr.cli import main

if __name__ == "__main__":
    sys.exit(main())
