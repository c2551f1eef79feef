# syntax=docker/dockerfile:1
# house-price: build the wheels in one stage, run them in a slim one.
# Each RUN is marked for tests/container/test_dockerfile.py, which replays the marked steps
# outside Docker: "smoke: run" steps are executed there, "smoke: skip" ones name why not.

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Dependencies first, from the lock alone, so that a change to the source reuses this layer.
COPY requirements.lock ./
# smoke: run
RUN python -m pip wheel --require-hashes --no-deps --wheel-dir /wheels -r requirements.lock
# A C compiler for the compiled parts (app/api/_rows.c, app/domain/_knn.c); only this stage has
# it. Python's headers come with the official image; a base without them gets Debian's. Not pinned: the
# compiler's version reaches no image, and the base's release decides which exist.
# smoke: skip (installs Debian packages, which needs root; the replaying machine has a compiler)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && { python -c "import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))" \
         || apt-get install -y --no-install-recommends python3-dev; } \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY app ./app
# smoke: run
RUN python -m pip wheel --no-deps --wheel-dir /wheels/app .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOUSE_PRICE_HOST=0.0.0.0 \
    HOUSE_PRICE_PORT=8000 \
    HOUSE_PRICE_WORKERS=2 \
    HOUSE_PRICE_MODEL_DIR=/var/lib/house-price/models \
    HOUSE_PRICE_DATA_DIR=/var/lib/house-price/data
WORKDIR /app
# smoke: skip (creates a system user, which needs root; the test runs as the calling user)
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin house-price \
    && mkdir -p /var/lib/house-price/models /var/lib/house-price/data \
    && chown -R house-price /var/lib/house-price
COPY --from=build /wheels /wheels
COPY requirements.lock ./
# smoke: run
RUN python -m pip install --no-index --find-links /wheels --require-hashes -r requirements.lock \
    && python -m pip install --no-index --no-deps /wheels/app/*.whl \
    && rm -rf /wheels
COPY data/sacramento.csv data/README.md ./data/
USER 10001
# The bundled sales, fitted at build time: the image answers at once. On a fresh named volume
# Docker copies this version in; later retrains land on the volume and survive restarts.
# smoke: run
RUN python -m app.train --data data/sacramento.csv --plain
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('HOUSE_PRICE_PORT', '8000')}/health/ready\", timeout=2).status == 200 else 1)"]
# uvicorn with HOUSE_PRICE_WORKERS workers, started by a launcher that gives them a fresh shared
# Prometheus folder so that /metrics adds up across workers.
CMD ["python", "-m", "app.serve"]
