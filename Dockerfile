# syntax=docker/dockerfile:1
# Multi-stage image: dependencies are built in a layer of their own, before the source.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependency layer: only pyproject.toml, so code edits do not invalidate it.
COPY pyproject.toml README.md ./
RUN mkdir -p bot && touch bot/__init__.py && pip install . && pip uninstall -y liqmap
# Source layer.
COPY bot ./bot
COPY alembic ./alembic
RUN pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    LIQMAP_DATA_DIR=/data \
    LIQMAP_ALEMBIC_DIR=/app/alembic
RUN useradd --create-home --uid 10001 liqmap && mkdir -p /data && chown liqmap /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic ./alembic
USER liqmap
VOLUME ["/data"]
CMD ["liqmap", "run"]
