# Multi-stage image: the pinned dependency set is installed in a layer of its own, before the source.
# No `# syntax=` line: it would make BuildKit fetch a frontend image from a registry, and offline builds fail.
# The base is pinned by tag (Python 3.11 on Debian 12). .ci/docker.sh, which has no registry, imports a base it
# makes itself (debootstrap) under this same name; so only `python3` (not `python`) is assumed on the base.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependency layer: exactly the versions in requirements.lock (`uv pip compile pyproject.toml ...`, see its header),
# so code edits do not invalidate it and every build gets the same set.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
# Source layer. `pip check` fails the build when pyproject.toml asks for something that the lock file does not
# satisfy (then regenerate the lock file with the command in its header).
COPY pyproject.toml README.md ./
# The Alembic migrations ship inside the package (bot/storage/migrations/), so nothing else is copied.
COPY bot ./bot
RUN pip install --no-deps . && pip check

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="liqmap" \
      org.opencontainers.image.description="Bitcoin liquidation-map bot (Telegram, Discord)"
# LIQMAP_HEALTH_HOST=0.0.0.0: inside the container, so that a published port (`-p 127.0.0.1:8787:8787`) reaches
# the health server; nothing is reachable from outside unless the port is published.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    LIQMAP_DATA_DIR=/data \
    LIQMAP_HEALTH_HOST=0.0.0.0 \
    LIQMAP_HEALTH_PORT=8787
# A non-root user (uid/gid 10001) owns /data, where the SQLite default lives. /app/data points there too, so a
# relative LIQMAP_DATA_DIR=data (the checkout's default, e.g. from an old .env) also lands in the volume.
RUN groupadd --gid 10001 liqmap \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin liqmap \
    && mkdir -p /data /app \
    && chown 10001:10001 /data \
    && ln -s /data /app/data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Numeric, so that a runtime (Kubernetes runAsNonRoot) can tell it is not root without reading /etc/passwd.
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8787
# /healthz answers 503 when the last tick is older than 3 intervals (or the database is unreadable).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "bot.ops.healthcheck"]
# `liqmap run` applies the database migrations first, then runs the bot; SIGTERM stops it gracefully (exit 0).
STOPSIGNAL SIGTERM
CMD ["liqmap", "run"]
