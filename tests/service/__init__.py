"""Tests of app.service."""
