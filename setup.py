"""The compiled row writer (app/api/_rows.c); the rest of the build is in pyproject.toml.

Optional: where no C compiler is found the package installs without it and writes the same
answers in Python (app/api/rows.py), more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("app.api._rows", ["app/api/_rows.c"], optional=True)])
