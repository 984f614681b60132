"""`python -m prm`: the same entry point as the `prm` command (prm/cli.py)."""

import sys

from prm.cli import main

sys.exit(main())
