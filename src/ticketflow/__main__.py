"""Run the command line: ``python -m ticketflow``."""

import sys

from ticketflow.cli import main

sys.exit(main())
