"""The domain: the input rules, the price model and its range, fitting, listings, evaluation.

Plain Python, NumPy and pandas. Imports nothing of the service, storage, web or command layers.
"""
