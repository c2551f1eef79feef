"""Metrics summed across a server's worker processes. Imports no other layer of the service."""
