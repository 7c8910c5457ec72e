"""The `veilleur` command, when this package is run with `python -m`."""

import sys

from bot.cli import main

sys.exit(main())
