"""House-price estimation service: an exact least-squares model served over HTTP."""

__version__ = "0.1.0"
