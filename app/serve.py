"""`python -m app.serve` starts the service under uvicorn: the command lives in app.cli.serve."""

from __future__ import annotations

from app.cli.serve import main

if __name__ == "__main__":
    main()
