#!/usr/bin/env bash
# Turns bench/run.sh's results (target, metric, round, value) into the markdown report: the median
# of the rounds per target, ratios to the bare proxy and to the direct stub, and the usage check.
set -euo pipefail
RESULTS=$1
# The warm-up round (run.sh) is reported round by round but left out of the medians.
median() { # target metric
  awk -F'\t' -v t="$1" -v m="$2" '$1 == t && $2 == m && $3 != "warm-up" && $4 != "" {print $4}' "$RESULTS" | sort -g |
    awk '{v[NR] = $1} END {if (NR == 0) print "–"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "–" || b == "–" || b == 0) print "–"; else printf "%.2f", a / b}'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "–" || b == "–") print "–"; else printf "%+.3f", a - b}'; }

echo "## Results ($(date -u +%Y-%m-%d), medians of $(awk -F'\t' '$2 == "rps" && $3 != "warm-up" {print $3}' "$RESULTS" | sort -u | wc -l) interleaved rounds)"
echo
echo "| Measure | direct stub | bare proxy (YARP) | BluesMinds embedded | BluesMinds PostgreSQL + Redis | embedded ÷ bare | PG+Redis ÷ bare | embedded ÷ direct |"
echo "|---|---|---|---|---|---|---|---|"
row() { # label metric kind(ratio|diff)
  local d b e s
  d=$(median direct "$2"); b=$(median bare "$2"); e=$(median embedded "$2"); s=$(median shared "$2")
  if [ "$3" = none ]; then
    echo "| $1 | $d | $b | $e | $s | | | |"
  elif [ "$3" = diff ]; then
    echo "| $1 | $d | $b | $e | $s | $(diff_ms "$e" "$b") ms | $(diff_ms "$s" "$b") ms | $(diff_ms "$e" "$d") ms |"
  else
    echo "| $1 | $d | $b | $e | $s | $(ratio "$e" "$b") | $(ratio "$s" "$b") | $(ratio "$e" "$d") |"
  fi
}
row "requests/s, 64 connections" rps ratio
row "CPU µs per request (measured process)" cpu_us_per_request ratio
row "peak RSS MB (after the 64-connection runs)" rss_peak_mb ratio
row "RSS after them: anonymous MB (GC heap, malloc arenas)" rss_anon_mb none
row "RSS after them: file-backed MB (mapped assemblies, libraries)" rss_file_mb none
row "RSS after them: shared MB (JIT code under W^X, SQLite's WAL index)" rss_shmem_mb none
row "p50 ms at 500 requests/s, evenly spaced" at500_p50_ms diff
row "p99 ms at 500 requests/s, evenly spaced" at500_p99_ms diff
row "longest request ms at 500 requests/s" at500_max_ms none
row "sends more than 1 ms behind schedule at 500/s (the load tool's own check)" at500_late_sends none
row "p99 ms at 500 requests/s in bursts of 10 (hey -q; not a budget)" burst500_p99_ms diff
row "p50 ms, one connection" one_p50_ms diff
row "stream time to first byte p50 ms (16 streams)" stream_ttfb_p50_ms diff
row "stream total p50 ms (8 chunks, 20 ms apart)" stream_total_p50_ms ratio
echo
# The medians above decide the budgets; the rounds show how far apart one machine's runs are.
value() { # target metric round
  awk -F'\t' -v t="$1" -v m="$2" -v r="$3" '$1 == t && $2 == m && $3 == r && $4 != "" {print $4; found = 1; exit} END {if (!found) print "–"}' "$RESULTS"
}
echo "Each round's ratios and differences to the bare proxy:"
echo
echo "| round | embedded requests/s | embedded CPU per request | PG+Redis requests/s | embedded p99 at 500/s | embedded first byte | embedded peak RSS MB (anonymous, file-backed, shared after the round's 64-connection run) |"
echo "|---|---|---|---|---|---|---|"
for r in $(awk -F'\t' '$2 == "rps" {print $3}' "$RESULTS" | sort -un); do
  echo "| ${r/warm-up/warm-up (not in the medians)} | $(ratio "$(value embedded rps "$r")" "$(value bare rps "$r")") | $(ratio "$(value embedded cpu_us_per_request "$r")" "$(value bare cpu_us_per_request "$r")") | $(ratio "$(value shared rps "$r")" "$(value bare rps "$r")") | $(diff_ms "$(value embedded at500_p99_ms "$r")" "$(value bare at500_p99_ms "$r")") ms | $(diff_ms "$(value embedded stream_ttfb_p50_ms "$r")" "$(value bare stream_ttfb_p50_ms "$r")") ms | $(value embedded rss_peak_mb "$r") ($(value embedded rss_anon_mb "$r"), $(value embedded rss_file_mb "$r"), $(value embedded rss_shmem_mb "$r")) |"
done
echo
windows=$(awk -F'\t' '$2 == "warmup_cpu_us" {print $3}' "$RESULTS" | sort -n | tail -1)
if [ -n "$windows" ]; then
  echo "Warm-up before the rounds, CPU µs per request of each 5 s window of 64-connection load (the runtime recompiles hot methods at its optimising tier meanwhile):"
  echo
  echo "| target | $(seq -s ' | ' "$windows") |"
  echo "|---|$(printf -- '---|%.0s' $(seq "$windows"))"
  for t in direct bare embedded shared; do
    echo "| $t | $(awk -F'\t' -v t="$t" '$1 == t && $2 == "warmup_cpu_us" {printf "%s%s", sep, $4; sep = " | "}' "$RESULTS") |"
  done
  echo
fi
errors=$(awk -F'\t' '$2 ~ /^errors|_errors$/ {n += $4} END {print n + 0}' "$RESULTS")
echo "Errors across every run: **$errors**."
echo
echo "| Soak: ${SOAK_STREAMS:-2000} concurrent streams held ~60 s | completed | errors | peak RSS MB |"
echo "|---|---|---|---|"
for t in bare embedded shared; do
  echo "| $t | $(median "$t" soak_completed) | $(median "$t" soak_errors) | $(median "$t" soak_peak_rss_mb) |"
done
echo
echo "| Usage rows | requests the stubs received | usage_logs rows | rows of requests cut off before forwarding |"
echo "|---|---|---|---|"
for t in embedded shared; do
  echo "| $t | $(median "$t" forwarded) | $(median "$t" usage_rows) | $(median "$t" usage_rows_cut_off) |"
done
echo
echo "Request ids the stubs received from the gateways: $(median all usage_forwarded_ids); without a usage row: **$(median all usage_missing)**; with more than one row: **$(median all usage_duplicated)**."
