"""The input rules, defined once: the features, their limits, and the range's level bounds.

The request schemas, the CSV checks, the fast path, the settings and training read them from
here; the page gets them filled into its HTML by the service, so no limit is written twice.
"""

from __future__ import annotations

FEATURES: tuple[str, str, str] = ("beds", "baths", "sqft")
TARGET = "price"
UNITS = {"beds": "$ per bedroom", "baths": "$ per bathroom", "sqft": "$ per sq ft"}

BEDS_MIN = 0
BEDS_MAX = 20  # bedrooms are whole numbers
BATHS_MIN = 0.0
BATHS_MAX = 20.0
SQFT_MIN = 50.0  # no home is smaller; it keeps price per square foot a finite number
SQFT_MAX = 100_000.0

# Each feature's (lowest, highest) allowed value, both allowed; a price only has to be above 0.
LIMITS: dict[str, tuple[float, float]] = {
    "beds": (float(BEDS_MIN), float(BEDS_MAX)),
    "baths": (BATHS_MIN, BATHS_MAX),
    "sqft": (SQFT_MIN, SQFT_MAX),
}

# The probability a price range is asked to hold the sale price at, and its default.
LEVEL_MIN = 0.5
LEVEL_MAX = 0.99
DEFAULT_LEVEL = 0.90


def level_allowed(level: float) -> bool:
    return LEVEL_MIN <= level <= LEVEL_MAX


# A market (a town) is named by lowercase letters, digits and hyphens, starting with a letter or
# digit; requests that name none are answered by the default market.
MARKET_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
MARKET_MAX_LENGTH = 63
DEFAULT_MARKET = "default"
