import sys

from prm.cli import main

sys.exit(main())
