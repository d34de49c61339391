"""``python -m aero_agent`` runs the CLI."""

import sys

from aero_agent.cli import main

sys.exit(main())
