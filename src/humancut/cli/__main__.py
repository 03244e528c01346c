"""`python -m humancut.cli`: the tests and the bench start the command this way."""

import sys

from . import main

sys.exit(main())
