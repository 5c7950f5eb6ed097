#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine with the .NET 10 SDK:
#   installs PostgreSQL and Redis with apt when missing, starts throw-away instances on loopback
#   (unless TEST_DATABASE_URL and TEST_REDIS_URL are given), builds with warnings as errors, checks
#   formatting and pending model changes, runs the unit tests once and the integration tests once per
#   database provider, and stops what it started, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# The first free port from a non-default start, so that a run never meets another server.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}
PG_PORT="${TEST_PG_PORT:-$(free_port 55432)}"
REDIS_PORT="${TEST_REDIS_PORT:-$(free_port 56379)}"
CONFIGURATION="${CONFIGURATION:-Release}"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; exit 1; fi
}

install_services() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  if [ ${#missing[@]} -gt 0 ]; then
    step "Installing ${missing[*]} with apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

SCRATCH=""
PG_DATA=""
PG_BIN=""
stop_services() {
  local status=$?
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$SCRATCH" ] && [ -f "$SCRATCH/redis/pid" ]; then
    kill "$(cat "$SCRATCH/redis/pid")" 2>/dev/null || true
  fi
  [ -n "$SCRATCH" ] && rm -rf "$SCRATCH"
  exit $status
}

# PostgreSQL refuses to run as root: run it as the postgres user then.
run_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_services() {
  SCRATCH=$(mktemp -d /tmp/bm-test-services.XXXXXX)
  chmod 755 "$SCRATCH"
  trap stop_services EXIT INT TERM
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_DATA="$SCRATCH/pg/data"
  mkdir -p "$SCRATCH/pg" "$SCRATCH/redis"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$SCRATCH/pg"

  step "Starting PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT (throw-away, in $SCRATCH)"
  run_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$SCRATCH/pg/log" -w start \
    -o "-p $PG_PORT -k $SCRATCH/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c autovacuum=off" >/dev/null
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE ROLE bm LOGIN PASSWORD 'bm' CREATEDB" >/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$SCRATCH/redis" \
    --pidfile "$SCRATCH/redis/pid" --save '' --appendonly no --logfile "$SCRATCH/redis/log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

  export TEST_DATABASE_URL="postgres://bm:bm@127.0.0.1:$PG_PORT/postgres"
  export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

if [ -z "${TEST_DATABASE_URL:-}" ] || [ -z "${TEST_REDIS_URL:-}" ]; then
  install_services
  start_services
fi

step "Restoring tools and packages"
dotnet tool restore >/dev/null
dotnet restore BluesMinds.slnx

step "Building ($CONFIGURATION, warnings as errors)"
dotnet build BluesMinds.slnx -c "$CONFIGURATION" --no-restore -warnaserror

step "Checking formatting"
dotnet format BluesMinds.slnx --verify-no-changes --no-restore

step "Checking for model changes without a migration"
for context in SqliteGatewayDbContext PostgresGatewayDbContext; do
  dotnet ef migrations has-pending-model-changes --no-build --configuration "$CONFIGURATION" \
    --project src/BluesMinds.Gateway.Data --context "$context"
done

step "Unit tests"
dotnet test --project tests/BluesMinds.Gateway.Tests -c "$CONFIGURATION" --no-build

for provider in Sqlite Postgres; do
  step "Integration tests on $provider"
  TEST_DB_PROVIDER=$provider dotnet test --project tests/BluesMinds.Gateway.IntegrationTests -c "$CONFIGURATION" --no-build
done

step "All tests passed"
