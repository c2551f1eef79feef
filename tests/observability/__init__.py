"""Tests of app.observability."""
