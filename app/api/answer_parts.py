"""The parts of an estimate in an answer: its contributions, and its comparable sales."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Adjustments(BaseModel):
    """What each of the model's terms changes the sale's price by, to the home's, in dollars,
    in this order (the sale price and these add up to `adjusted_price`)."""

    beds: float
    baths: float
    sqft: float
    area: float
    location: float
    time: float = Field(description="From the month of the sale to the home's `as_of`.")


class Comp(BaseModel):
    """A sale of the market like the home, adjusted to it."""

    price: float = Field(description="What it sold for, in dollars.")
    sold_at: str | None = Field(description="The date of the sale (YYYY-MM-DD).")
    beds: float
    baths: float
    sqft: float
    area: str | None
    latitude: float
    longitude: float
    distance_km: float = Field(description="From the home, in kilometres.")
    weight: float = Field(
        description="Its weight in the estimate, 1 / (1 + d²) of its similarity distance d; 0 "
        "for a sale listed beyond those the estimate takes."
    )
    adjustments: Adjustments
    adjusted_price: float = Field(
        description="The sale price adjusted to the home: what this sale says the home is worth."
    )


class Contributions(BaseModel):
    """The estimate in parts, in dollars, added in this order, is the price: intercept + beds +
    baths + sqft, and for a located market + area + location + time. A located market's
    intercept is the price of its typical home at its level in its newest month; each part is
    what its term changes the price by, given the terms before it."""

    intercept: float
    beds: float
    baths: float
    sqft: float
    area: float | None = Field(None, description="The home's area (located markets).")
    location: float | None = Field(
        None, description="The home's coordinates: cells of 2 km and 0.5 km (located markets)."
    )
    time: float | None = Field(
        None, description="The month index, from the newest month to `as_of` (located markets)."
    )
    comps: float | None = Field(
        None,
        description="What the home's comparable sales move the estimate by (located markets "
        "with coordinates): their weighted median residual, shrunk when they are few or far.",
    )
    equity: float | None = Field(
        None,
        description="Vertical equity (located markets): the estimate's distance from the "
        "market's centre scaled so that cheap and dear homes are valued alike relative to "
        "their prices (PRB 0 out of fold).",
    )
