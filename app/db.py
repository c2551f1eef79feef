"""`python -m app.db` upgrades, copies and prunes the storage: the command lives in app.cli.db."""

from __future__ import annotations

import sys

from app.cli.db import main

if __name__ == "__main__":
    sys.exit(main())
