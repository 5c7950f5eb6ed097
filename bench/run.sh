#!/usr/bin/env bash
# The benchmark, on a fresh Debian machine with the .NET 10 SDK (see bench/README.md):
#   installs wrk, hey, jq, sqlite3, PostgreSQL and Redis with apt when missing; builds everything in
#   Release; starts three stub upstreams, a bare YARP proxy, BluesMinds embedded (SQLite, in-process
#   limits) and BluesMinds with PostgreSQL + Redis; runs the same load against each, interleaved, for
#   ROUNDS rounds; checks that every request left exactly one usage row; prints a markdown report
#   (medians, ratios) and writes it to bench/results/.
# Settings (environment): ROUNDS (3), DURATION seconds per throughput/latency run (10),
#   WARMUP seconds of 64-connection load per target before the rounds (30, in 5 s windows whose CPU
#   per request is reported), WARMUP_ROUND=0 to skip the unmeasured round before the measured ones,
#   SOAK_STREAMS (2000), SOAK=0 to skip the soak.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib/services.sh
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-30}"
WARMUP_ROUND="${WARMUP_ROUND:-1}"
SOAK_STREAMS="${SOAK_STREAMS:-2000}"
SOAK="${SOAK:-1}"
PG_PORT="$(free_port 55532)"
REDIS_PORT="$(free_port 56479)"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

missing=()
for tool in wrk hey jq sqlite3 curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "Installing ${missing[*]} with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
install_services

step "Building (Release)"
dotnet build src/BluesMinds.Gateway -c Release -v q -nologo >/dev/null
for project in Stub BareProxy Load; do dotnet build "bench/$project" -c Release -v q -nologo >/dev/null; done
GATEWAY_DLL=src/BluesMinds.Gateway/bin/Release/net10.0/BluesMinds.Gateway.dll
STUB_DLL=bench/Stub/bin/Release/net10.0/BluesMinds.Bench.Stub.dll
PROXY_DLL=bench/BareProxy/bin/Release/net10.0/BluesMinds.Bench.BareProxy.dll
LOAD_DLL=bench/Load/bin/Release/net10.0/BluesMinds.Bench.Load.dll

PIDS=()
on_stop() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
start_services
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE bm_bench OWNER bm" >/dev/null
RESULTS="$SCRATCH/results.tsv"
: >"$RESULTS"

# start NAME PORT ENV... -- DLL: runs a process in the background and waits for its port.
start() {
  local name=$1 port=$2; shift 2
  local env=()
  while [ "$1" != "--" ]; do env+=("$1"); shift; done
  shift
  env "${env[@]}" ASPNETCORE_URLS="http://127.0.0.1:$port" dotnet "$@" >"$SCRATCH/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0; sleep 0.1; done
  echo "$name did not start; its log:" >&2; cat "$SCRATCH/$name.log" >&2; exit 1
}

STUB=9100; STREAM_STUB=9101; SOAK_STUB=9102; PROXY=9200; EMBEDDED=9300; SHARED=9400
step "Starting stubs, the bare proxy and both gateways"
start stub $STUB STUB_CHUNKS=8 -- "$STUB_DLL"
start streamstub $STREAM_STUB STUB_CHUNKS=8 STUB_CHUNK_DELAY_MS=20 -- "$STUB_DLL"
start soakstub $SOAK_STUB STUB_CHUNKS=60 STUB_CHUNK_DELAY_MS=1000 -- "$STUB_DLL"
# The measured .NET processes run with glibc's malloc arenas capped, as docs/PRODUCTION.md advises
# for the gateway (Runtime): the bare proxy too, so that the comparison stays like for like.
ARENAS=(MALLOC_ARENA_MAX=2)
start proxy $PROXY "${ARENAS[@]}" BENCH_UPSTREAM=http://127.0.0.1:$STUB BENCH_STREAM_UPSTREAM=http://127.0.0.1:$STREAM_STUB \
  BENCH_SOAK_UPSTREAM=http://127.0.0.1:$SOAK_STUB -- "$PROXY_DLL"
# The gateway's own directory as its content root, so that it runs with the appsettings.json it
# ships with, as it does from a container's WORKDIR (the script itself runs from the repository root).
GATEWAY_ENV=("${ARENAS[@]}" ASPNETCORE_CONTENTROOT="$PWD/$(dirname "$GATEWAY_DLL")" ASPNETCORE_ENVIRONMENT=Staging Logging__LogLevel__Default=Warning
  JWT_SECRET=bench-jwt-secret-0123456789abcdefghij API_KEY_SECRET=bench-key-secret-0123456789abcdefghij
  ENCRYPTION_KEY=bench-enc-key-0123456789abcdefghijklmn ADMIN_EMAILS=bench-admin@example.com)
EMBEDDED_ENV=(App__DataDirectory="$SCRATCH/embedded")
SHARED_ENV=(App__DataDirectory="$SCRATCH/shared" DATABASE_PROVIDER=Postgres
  DATABASE_URL="postgres://bm:bm@127.0.0.1:$PG_PORT/bm_bench" REDIS_URL="redis://127.0.0.1:$REDIS_PORT")
mkdir -p "$SCRATCH/embedded" "$SCRATCH/shared"
# As docs/PRODUCTION.md orders it: migrate, then serve (the gateway never migrates in Staging).
env "${GATEWAY_ENV[@]}" "${EMBEDDED_ENV[@]}" dotnet "$GATEWAY_DLL" migrate >"$SCRATCH/migrate.log" 2>&1 \
  && env "${GATEWAY_ENV[@]}" "${SHARED_ENV[@]}" dotnet "$GATEWAY_DLL" migrate >>"$SCRATCH/migrate.log" 2>&1 \
  || { echo "migrate failed; its log:" >&2; cat "$SCRATCH/migrate.log" >&2; exit 1; }
start embedded $EMBEDDED "${GATEWAY_ENV[@]}" "${EMBEDDED_ENV[@]}" -- "$GATEWAY_DLL"
start shared $SHARED "${GATEWAY_ENV[@]}" "${SHARED_ENV[@]}" -- "$GATEWAY_DLL"

# provision PORT: an admin who registers the stubs, lifts its own limits out of the way (they are
# still checked on every request) and creates a bm_ key; prints the key.
provision() {
  local base="http://127.0.0.1:$1" token user
  local json=(-H 'Content-Type: application/json')
  local auth
  token=$(curl -sf "$base/api/auth/signup" "${json[@]}" \
    -d '{"email":"bench-admin@example.com","password":"Bench-Password-42!","full_name":"Bench"}' | jq -r .token)
  auth=(-H "Authorization: Bearer $token")
  user=$(curl -sf "$base/api/auth/me" "${auth[@]}" | jq -r .id)
  for server in "fast $STUB bench-model" "stream $STREAM_STUB bench-stream" "soak $SOAK_STUB bench-soak"; do
    set -- $server
    curl -sf "$base/api/admin/servers" "${auth[@]}" "${json[@]}" \
      -d "{\"name\":\"$1\",\"base_url\":\"http://127.0.0.1:$2\",\"supported_models\":[\"$3\"]}" >/dev/null
  done
  curl -sf -X PUT "$base/api/admin/rate-limits/users/$user" "${auth[@]}" "${json[@]}" \
    -d '{"requests_per_minute":2000000000,"tokens_per_minute":2000000000,"concurrent_requests":100000,"monthly_token_quota":1000000000000000}' >/dev/null
  local key
  key=$(curl -sf "$base/api/keys" "${auth[@]}" "${json[@]}" -d '{"name":"bench"}' | jq -r .key)
  for _ in $(seq 100); do
    local models
    models=$(curl -sf "$base/api/v1/models" -H "Authorization: Bearer $key" || true)
    if [[ $models == *bench-model* && $models == *bench-stream* && $models == *bench-soak* ]]; then echo "$key"; return 0; fi
    sleep 0.1
  done
  echo "the gateway on $1 never listed the stub models" >&2; exit 1
}
KEY_embedded=$(provision $EMBEDDED)
KEY_shared=$(provision $SHARED)

BODY='{"model":"bench-model","max_tokens":64,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}'
TARGETS=(direct bare embedded shared)
# url TARGET [stream|soak]: the chat URL base (ending in /v1) of a target.
base_url() {
  case "$1:${2:-}" in
    direct:) echo "http://127.0.0.1:$STUB/v1" ;;
    direct:stream) echo "http://127.0.0.1:$STREAM_STUB/v1" ;;
    direct:soak) echo "http://127.0.0.1:$SOAK_STUB/v1" ;;
    bare:) echo "http://127.0.0.1:$PROXY/api/v1" ;;
    bare:*) echo "http://127.0.0.1:$PROXY/$2/api/v1" ;;
    embedded:*) echo "http://127.0.0.1:$EMBEDDED/api/v1" ;;
    shared:*) echo "http://127.0.0.1:$SHARED/api/v1" ;;
  esac
}
model() { case "$1:${2:-}" in direct:*|bare:*) echo bench-model ;; *:stream) echo bench-stream ;; *:soak) echo bench-soak ;; *) echo bench-model ;; esac; }
key() { case $1 in embedded) echo "$KEY_embedded" ;; shared) echo "$KEY_shared" ;; *) echo - ;; esac; }
pid() { case $1 in direct) echo "$PID_stub" ;; bare) echo "$PID_proxy" ;; embedded) echo "$PID_embedded" ;; shared) echo "$PID_shared" ;; esac; }
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }  # fields after the name, which may hold spaces
rss_peak_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# What the resident memory is made of now: anonymous (GC heap, malloc arenas), file-backed (mapped
# assemblies and libraries, which the page cache may drop and fault back) and shared (JIT code
# mapped twice under W^X, SQLite's WAL index). A peak alone cannot say which of them rose.
rss_parts_mb() { awk '/^RssAnon:/ {a = $2} /^RssFile:/ {f = $2} /^RssShmem:/ {s = $2} END {printf "rss_anon_mb %.1f\nrss_file_mb %.1f\nrss_shmem_mb %.1f\n", a / 1024, f / 1024, s / 1024}' "/proc/$1/status"; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }
served() { local total=0; for port in $STUB $STREAM_STUB $SOAK_STUB; do total=$((total + $(curl -sf "http://127.0.0.1:$port/stats"))); done; echo $total; }
declare -A FORWARDED=([embedded]=0 [shared]=0)
# count TARGET COMMAND...: runs a load command and adds what reached the stubs to the target's tally.
count() {
  local target=$1; shift
  local before after
  before=$(served)
  "$@"
  after=$(served)
  if [ -n "${FORWARDED[$target]+x}" ]; then FORWARDED[$target]=$((FORWARDED[$target] + after - before)); fi
}
TICK=$(getconf CLK_TCK)

throughput() {
  local target=$1 round=$2 out pid before after requests
  pid=$(pid "$target")
  before=$(cpu_ticks "$pid")
  out=$(BENCH_KEY=$(key "$target" | sed 's/^-$//') wrk -t2 -c64 -d"${DURATION}s" --latency -s bench/wrk/chat.lua "$(base_url "$target")/chat/completions")
  after=$(cpu_ticks "$pid")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  record "$target" rps "$round" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  record "$target" cpu_us_per_request "$round" "$(awk -v t="$((after - before))" -v r="$requests" -v hz="$TICK" 'BEGIN {printf "%.1f", t * 1000000 / hz / r}')"
  record "$target" errors_64c "$round" "$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")"
  record "$target" rss_peak_mb "$round" "$(rss_peak_mb "$pid")"
  local metric mb
  while read -r metric mb; do record "$target" "$metric" "$round" "$mb"; done < <(rss_parts_mb "$pid")
}

hey_latency() {
  local target=$1 round=$2 name=$3; shift 3
  local out k
  k=$(key "$target")
  local auth=()
  [ "$k" != "-" ] && auth=(-H "Authorization: Bearer $k")
  out=$(hey "$@" -m POST -T application/json "${auth[@]}" -d "$BODY" "$(base_url "$target")/chat/completions")
  record "$target" "${name}_p50_ms" "$round" "$(awk '/ 50% in/ {printf "%.3f", $3 * 1000}' <<<"$out")"
  record "$target" "${name}_p99_ms" "$round" "$(awk '/ 99% in/ {printf "%.3f", $3 * 1000}' <<<"$out")"
  record "$target" "errors_$name" "$round" "$(awk '
    /Status code distribution/ {s = 1; e = 0; next}
    /Error distribution/ {e = 1; s = 0; next}
    s && /\[[0-9]+\]/ {code = $1; gsub(/[][]/, "", code); if (code != 200) n += $2}
    e && /\[[0-9]+\]/ {c = $1; gsub(/[][]/, "", c); n += c}
    END {print n + 0}' <<<"$out")"
}

# each_target ROUND PREFIX FLAVOUR "FIELDS" LOAD-ARGS...: runs bench/Load with the four targets
# appended (their URL and model for FLAVOUR: empty, or stream), which take turns within the run,
# and records each of FIELDS from each target's output line as PREFIX_FIELD. The modes:
#   rate 500 DURATION   requests sent evenly at 500/s, a second to each target in turn (see
#                       bench/Load/PacedRate.cs for why not hey's -q, whose bursts a row still measures)
#   serial 2000         one request at a time on one connection, a hundred to each in turn (hey
#                       reports whole tenths of a millisecond)
#   stream 16 640       time to first byte and total of streams 16 at a time, 64 to each in turn
each_target() {
  local round=$1 prefix=$2 flavour=$3 fields=$4 out target field args=()
  shift 4
  for target in "${TARGETS[@]}"; do args+=("$target" "$(base_url "$target" "$flavour")" "$(key "$target")" "$(model "$target" "$flavour")"); done
  out=$(dotnet "$LOAD_DLL" "$@" "${args[@]}")
  for target in "${TARGETS[@]}"; do
    for field in $fields; do
      record "$target" "${prefix}_$field" "$round" "$(grep "^target=$target " <<<"$out" | tr ' ' '\n' | awk -F= -v f="$field" '$1 == f {print $2}')"
    done
  done
}

# warm_window TARGET WINDOW: 5 s of 64-connection load; records the CPU per request, which falls
# while the runtime recompiles hot methods at its optimising tier.
warm_window() {
  local target=$1 window=$2 out pid before after
  pid=$(pid "$target")
  before=$(cpu_ticks "$pid")
  out=$(BENCH_KEY=$(key "$target" | sed 's/^-$//') wrk -t2 -c64 -d5s -s bench/wrk/chat.lua "$(base_url "$target")/chat/completions")
  after=$(cpu_ticks "$pid")
  record "$target" warmup_cpu_us "$window" "$(awk -v t="$((after - before))" -v r="$(awk '/requests in/ {print $1}' <<<"$out")" -v hz="$TICK" 'BEGIN {printf "%.1f", t * 1000000 / hz / r}')"
  record "$target" errors_warmup "$window" "$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")"
}

step "Warming up every target: ${WARMUP} s of load each, reported but not measured"
for target in "${TARGETS[@]}"; do
  for window in $(seq $(((WARMUP + 4) / 5))); do count "$target" warm_window "$target" "$window"; done
  count "$target" dotnet "$LOAD_DLL" stream 16 64 "$target" "$(base_url "$target" stream)" "$(key "$target")" "$(model "$target" stream)" >/dev/null
done

# The measurements that take turns serve all four targets in one run of bench/Load, so the
# stubs' count cannot be split between the gateways: credit N adds to each gateway's tally what it
# was sent, unmeasured warm-up included (rate: one second at the rate; serial: one turn of 100;
# stream: two streams per concurrent stream). Streams reach the stream stub only. The check by
# request id at the end does not depend on this tally.
SERIAL_REQUESTS=2000 STREAMS=640 STREAM_CONCURRENCY=16
credit() {
  local target
  for target in embedded shared; do FORWARDED[$target]=$((FORWARDED[$target] + $1)); done
}

# round ROUND: every measurement once, recorded as ROUND.
round() {
  local round=$1 target
  for target in "${TARGETS[@]}"; do
    echo "  $target: 64 connections"; count "$target" throughput "$target" "$round"
  done
  echo "  every target: 500 requests/s, evenly spaced, a second each in turn"
  each_target "$round" at500 "" "p50_ms p99_ms max_ms errors late_sends" rate 500 "$DURATION"
  credit $((500 * (DURATION + 1)))
  for target in "${TARGETS[@]}"; do
    echo "  $target: 500 requests/s in bursts of 10"; count "$target" hey_latency "$target" "$round" burst500 -z "${DURATION}s" -c 10 -q 50
  done
  echo "  every target: one connection, a hundred requests each in turn"
  each_target "$round" one "" "p50_ms p99_ms errors" serial "$SERIAL_REQUESTS"
  credit $((SERIAL_REQUESTS + 100))
  echo "  every target: 16 concurrent streams, 64 each in turn"
  each_target "$round" stream stream "ttfb_p50_ms ttfb_p99_ms total_p50_ms errors" stream "$STREAM_CONCURRENCY" "$STREAMS"
  credit $((STREAMS + 2 * STREAM_CONCURRENCY))
}

# A first round, recorded as "warm-up" and left out of the medians: the runtime is still compiling
# then. Under the 64-connection load it queues methods for its optimising tier faster than its one
# compiler thread gets the CPU to compile them, and compiles them when the load drops, during the
# 500 requests/s run; code that runs every few seconds (background jobs) reaches that tier minutes
# after the start. Its numbers are in the report, beside the measured rounds.
if [ "$WARMUP_ROUND" = 1 ]; then
  step "Warm-up round (reported, not in the medians)"
  round warm-up
fi

for round in $(seq "$ROUNDS"); do
  step "Round $round of $ROUNDS"
  round "$round"
done

soak_run() {
  dotnet "$LOAD_DLL" soak "$(base_url "$1" soak)" "$(key "$1")" "$(model "$1" soak)" "$SOAK_STREAMS" "$(pid "$1")" >"$2"
}

if [ "$SOAK" = 1 ]; then
  for target in bare embedded shared; do
    step "Soak: $SOAK_STREAMS concurrent streams for a minute against $target"
    count "$target" soak_run "$target" "$SCRATCH/soak-$target.txt"
    out=$(cat "$SCRATCH/soak-$target.txt")
    echo "  $out"
    for field in completed errors peak_rss_mb; do
      record "$target" "soak_$field" 1 "$(tr ' ' '\n' <<<"$out" | awk -F= -v f="$field" '$1 == f {print $2}')"
    done
  done
fi

step "Counting usage rows (every request the gateways forwarded, cut-off ones included)"
sleep 3
# Every request id a stub received from a gateway must have exactly one row in that gateway's
# usage_logs; rows without a server are requests the load tool cut off before they were forwarded.
for port in $STUB $STREAM_STUB $SOAK_STUB; do curl -sf "http://127.0.0.1:$port/stats/request-ids"; echo; done | grep . | sort >"$SCRATCH/forwarded-ids"
sqlite3 "$SCRATCH/embedded/bluesminds.db" "SELECT request_id FROM usage_logs" >"$SCRATCH/rows-embedded"
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bm_bench -tAc "SELECT request_id FROM usage_logs" >"$SCRATCH/rows-shared"
sort "$SCRATCH/rows-embedded" "$SCRATCH/rows-shared" >"$SCRATCH/rows-all"
record all usage_missing 1 "$(comm -23 "$SCRATCH/forwarded-ids" <(sort -u "$SCRATCH/rows-all") | wc -l)"
record all usage_duplicated 1 "$(uniq -d "$SCRATCH/rows-all" | wc -l)"
record all usage_forwarded_ids 1 "$(wc -l <"$SCRATCH/forwarded-ids")"
COUNT_SQL="SELECT count(*), count(*) - count(server_id) FROM usage_logs"
IFS='|' read -r rows_embedded cut_embedded < <(sqlite3 "$SCRATCH/embedded/bluesminds.db" "$COUNT_SQL")
IFS='|' read -r rows_shared cut_shared < <(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bm_bench -tAc "$COUNT_SQL")
record embedded usage_rows 1 "$rows_embedded"
record shared usage_rows 1 "$rows_shared"
record embedded usage_rows_cut_off 1 "$cut_embedded"
record shared usage_rows_cut_off 1 "$cut_shared"
record embedded forwarded 1 "${FORWARDED[embedded]}"
record shared forwarded 1 "${FORWARDED[shared]}"

mkdir -p bench/results
REPORT="bench/results/$(date -u +%Y%m%dT%H%M%SZ).md"
bench/report.sh "$RESULTS" >"$REPORT"
cp "$RESULTS" "${REPORT%.md}.tsv"
cat "$REPORT"
echo
echo "Report: $REPORT"
