"""Use cases: fit-save-activate, retrain jobs and their runner, retention, the served model.

Imports the domain and the storage interface; never the web layer.
"""
