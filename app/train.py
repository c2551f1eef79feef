"""`python -m app.train` fits listings and activates the model (app.cli.train)."""

from __future__ import annotations

import os
import sys

from app.cli.train import main

if __name__ == "__main__":
    code = main()
    # The fit is stored and closed, and every line written: the process ends here. Its memory
    # goes back to the system whole, without a tenth of a second spent finalising numpy's and
    # pandas' modules and freeing the fit's arrays one by one.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
