"""The OpenBLAS kernels other than its own choice that this CPU runs: `python -m tests.kernels`.

`make test-kernels` runs the tests that fit again under each (`OPENBLAS_CORETYPE`), so that a
file written on one kernel is checked on another. Printed one a line, at most two, in the order
Haswell, SkylakeX, Sandybridge, Nehalem, each only where the CPU has the instructions it uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Each kernel and the CPU flags (as /proc/cpuinfo names them) its code needs.
NEEDS = {
    "Haswell": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512bw", "avx512dq", "avx512vl"},
    "Sandybridge": {"avx"},
    "Nehalem": {"sse4_2"},
}


def cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def chosen() -> str | None:
    """The kernel OpenBLAS uses in this process (None when NumPy's BLAS is not OpenBLAS)."""
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl inspects)
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    for library in threadpool_info():
        if library.get("internal_api") == "openblas":
            return str(library.get("architecture"))
    return None


def others(limit: int = 2) -> list[str]:
    flags, own = cpu_flags(), chosen()
    if own is None:
        return []
    runnable = [k for k, needs in NEEDS.items() if needs <= flags and k.lower() != own.lower()]
    return runnable[:limit]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--chosen":
        print(chosen())
    else:
        print("\n".join(others()))
