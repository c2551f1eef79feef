"""The fields of a home and a sale in requests: their types, limits and descriptions, once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field

from app.domain.place_rules import AREA_MAX_LENGTH, LATITUDE_LIMIT, LONGITUDE_LIMIT
from app.domain.rules import (
    BATHS_MAX,
    BATHS_MIN,
    BEDS_MAX,
    BEDS_MIN,
    MARKET_MAX_LENGTH,
    MARKET_PATTERN,
    SQFT_MAX,
    SQFT_MIN,
)

Beds = Annotated[
    int,
    Field(
        ge=BEDS_MIN,
        le=BEDS_MAX,
        description=f"Bedrooms, an integer {BEDS_MIN} to {BEDS_MAX}.",
    ),
]

Baths = Annotated[
    float,
    Field(
        ge=BATHS_MIN,
        le=BATHS_MAX,
        description=f"Bathrooms, {BATHS_MIN:g} to {BATHS_MAX:g}; halves allowed.",
    ),
]

Sqft = Annotated[
    float,
    Field(
        ge=SQFT_MIN,
        le=SQFT_MAX,
        description=f"Living area in square feet, {SQFT_MIN:,.0f} to {SQFT_MAX:,.0f}.",
    ),
]

Price = Annotated[float, Field(gt=0, description="Sale price in US dollars, above 0.")]

MarketName = Annotated[
    str,
    Field(
        pattern=MARKET_PATTERN,
        max_length=MARKET_MAX_LENGTH,
        description="A market (town): 1 to 63 lowercase letters, digits and hyphens, starting "
        "with a letter or digit. Left out: the default market (`HOUSE_PRICE_DEFAULT_MARKET`).",
        examples=["sacramento"],
    ),
]


Area = Annotated[
    str,
    Field(
        min_length=1,
        max_length=AREA_MAX_LENGTH,
        description="The home's area: a postal code, neighbourhood or tract, as the market's "
        f"sales name it (at most {AREA_MAX_LENGTH} characters). Used by located markets.",
        examples=["98103"],
    ),
]
Latitude = Annotated[
    float,
    Field(
        ge=-LATITUDE_LIMIT,
        le=LATITUDE_LIMIT,
        description="Degrees north, -90 to 90; with `longitude`. Used by located markets.",
    ),
]
Longitude = Annotated[
    float,
    Field(
        ge=-LONGITUDE_LIMIT,
        le=LONGITUDE_LIMIT,
        description="Degrees east, -180 to 180; with `latitude`. Used by located markets.",
    ),
]
AsOf = Annotated[
    dt.date,
    Field(
        strict=False,  # a JSON string in a batch document too; anything but text: `_dates`
        description="Value the home as of this date (YYYY-MM-DD); left out, the newest month "
        "of the market's sales. Used by markets whose sales carry dates.",
    ),
]
