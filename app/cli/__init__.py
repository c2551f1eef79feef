"""The commands: `python -m app.train`, `python -m app.db`, `python -m app.serve`.

The top layer beside the API: may import every layer below, never the API's modules.
"""
