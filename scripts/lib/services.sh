# Shared by scripts/test.sh and bench/run.sh: install PostgreSQL and Redis with apt when missing,
# start throw-away instances on loopback (PG_PORT, REDIS_PORT), and stop them on exit.
# Sets TEST_DATABASE_URL and TEST_REDIS_URL. Source it; do not run it.

# The first free port from a non-default start, so that a run never meets another server.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}
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
  # A caller may define on_stop to stop its own processes first.
  if declare -F on_stop >/dev/null; then on_stop || true; fi
  if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$SCRATCH" ] && [ -f "$SCRATCH/redis/pid" ]; then
    local redis_pid
    redis_pid=$(cat "$SCRATCH/redis/pid")
    kill "$redis_pid" 2>/dev/null || true
    # Redis writes its log and removes its pid file as it exits: removing the directory under it
    # failed now and then ("Directory not empty") and turned a green run red.
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "$SCRATCH" ]; then rm -rf "$SCRATCH" || true; fi
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
  local pg_options="-p $PG_PORT -k $SCRATCH/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c autovacuum=off"
  # A start that fails once on a busy machine is tried again, with PostgreSQL's own reason shown.
  if ! run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$SCRATCH/pg/log" -w -t 120 start -o "$pg_options" >/dev/null; then
    echo "PostgreSQL did not start; its log:" >&2
    tail -n 20 "$SCRATCH/pg/log" >&2 || true
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    sleep 2
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$SCRATCH/pg/log" -w -t 120 start -o "$pg_options" >/dev/null
  fi
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE ROLE bm LOGIN PASSWORD 'bm' CREATEDB" >/dev/null
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$SCRATCH/redis" \
    --pidfile "$SCRATCH/redis/pid" --save '' --appendonly no --logfile "$SCRATCH/redis/log"
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

  export TEST_DATABASE_URL="postgres://bm:bm@127.0.0.1:$PG_PORT/postgres"
  export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

