"""The array type every numeric module shares."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    pass


FloatArray = npt.NDArray[np.float64]
