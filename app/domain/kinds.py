"""The two kinds of price model as one type: plain (beds, baths, sqft) and located."""

from __future__ import annotations

from app.domain.located_model import LocatedModel
from app.domain.model import PriceModel

Model = PriceModel | LocatedModel
MODEL_CLASSES = (PriceModel, LocatedModel)
