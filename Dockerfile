# syntax=docker/dockerfile:1
# Multi-stage image: dependencies are built in a layer of their own, before the source.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependency layer: only pyproject.toml (and the README it names), so code edits do not invalidate it.
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
    LIQMAP_ALEMBIC_DIR=/app/alembic \
    LIQMAP_HEALTH_PORT=8787
# A non-root user owns /data (the SQLite default lives there).
RUN useradd --create-home --uid 10001 liqmap && mkdir -p /data && chown liqmap /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY alembic ./alembic
USER liqmap
VOLUME ["/data"]
EXPOSE 8787
# /healthz answers 503 when the last tick is older than 3 intervals (or the database is unreadable).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "bot.ops.healthcheck"]
# `liqmap run` applies the database migrations first, then runs the bot; SIGTERM stops it gracefully.
STOPSIGNAL SIGTERM
CMD ["liqmap", "run"]
