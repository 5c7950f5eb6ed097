#!/usr/bin/env bash
# Profiles a running gateway for SECONDS (default 6) and prints where its CPU went, by the innermost
# frame that matches a category (usage writer, tokenizer, limits, HttpClient, Kestrel, middleware...).
# Start the gateway with DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 so that perf can
# name JIT-compiled methods, put it under load (wrk), then: bench/profile/profile.sh PID [SECONDS]
# Needs perf (Debian: linux-perf) and python3.
set -euo pipefail
pid=$1
seconds=${2:-6}
out=$(mktemp -d)
perf record -F 999 -g -p "$pid" -o "$out/perf.data" -- sleep "$seconds" >/dev/null 2>&1
perf script -i "$out/perf.data" 2>/dev/null | python3 "$(dirname "$0")/categories.py"
echo "raw profile: $out/perf.data (perf report -i $out/perf.data --no-children --sort dso,sym)"
