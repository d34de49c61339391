"""``python -m aero_mcp``: the same as the ``aero-mcp`` command."""

from aero_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
