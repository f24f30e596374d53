"""``python -m sinch_calling``: the same as the ``sinch-calling`` command."""

import sys

from .cli import main

sys.exit(main())
