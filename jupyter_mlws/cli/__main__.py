"""`python -m jupyter_mlws.cli ...`: the same as `jupyter mlws ...` (tests and benchmarks start it so)."""

import sys

from .main import main

sys.exit(main())
