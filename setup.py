"""The compiled parts (the row writer, app/api/_rows.c; the search for comps,
app/domain/_knn.c); the rest of the build is in pyproject.toml.

Optional: where no C compiler is found the package installs without them and gives the same
answers in Python (app/api/rows.py; scipy's k-d tree in app/domain/comps.py), more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("app.api._rows", ["app/api/_rows.c"], optional=True),
        Extension("app.domain._knn", ["app/domain/_knn.c"], optional=True),
    ]
)
