"""`python -m app.train` fits listings and activates the model (app.cli.train)."""

from __future__ import annotations

import sys

from app.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
