"""Tests of app.domain."""
