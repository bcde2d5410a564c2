#!/usr/bin/env bash
# CPU per request as instructions, counted by valgrind's callgrind in the broker process: the
# same count for the same binary and inputs whatever else the machine is doing, so a before and
# after can be compared on a busy 2-core box (BENCHMARKS.md).
#
#   benches/callgrind.sh [broker binary] [scenario] [n1] [n2]   e.g. benches/callgrind.sh target/release/broker disclose 100 400
#
# One `broker serve` on a fresh SQLite dev world runs under callgrind; `broker loadgen` (the
# same binary) drives the scenario twice over 4 connections, n1 then n2 requests, the counters
# zeroed before and dumped after each run. Each run seeds its own children and records, so
# (I(n2) - I(n1)) / (n2 - n1) is the broker's instructions per request with the seeding, the
# handshakes and the start-up cancelled out. Prints one JSON line.
set -euo pipefail
bin=$(realpath "${1:-target/release/broker}")
scenario=${2:-disclose}
n1=${3:-100}
n2=${4:-400}
port=${BENCH_PORT:-9754}
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
dir=$(mktemp -d)
"$bin" dev-init --dir "$dir" --listen "127.0.0.1:$port" >/dev/null
# the metrics listener beside the bench port, not the dev default another broker may hold
sed -i "s/^listen = \"127.0.0.1:9464\"/listen = \"127.0.0.1:$((port + 1))\"/" "$dir/broker.toml"
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
BROKER_DATABASE_URL="sqlite://$dir/data/cg.db" BROKER_SERVER_LISTEN="127.0.0.1:$port" \
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
  "$bin" serve --config "$dir/broker.toml" >"$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.5; done
(echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null || { echo "the broker did not start under valgrind" >&2; cat "$dir/serve.log" >&2; exit 1; }

# instructions the server ran during one loadgen run of $1 requests
run() {
  callgrind_control -z "$server" >/dev/null
  local line
  line=$("$bin" loadgen --addr "127.0.0.1:$port" --config "$dir/broker.toml" --scenario "$scenario" \
    --connections 4 --duration 10m --requests "$1")
  case $line in *'"errors":0,"transport_errors":0'*) ;; *) echo "loadgen reported errors: $line" >&2; exit 1;; esac
  rm -f "$dir"/cg.out.*
  callgrind_control -d "$server" >/dev/null
  sleep 1
  local dump
  dump=$(ls -t "$dir"/cg.out.* | head -n 1)
  awk '/^summary:/ {print $2; exit} /^totals:/ {print $2; exit}' "$dump"
}
i1=$(run "$n1")
i2=$(run "$n2")
per=$(( (i2 - i1) / (n2 - n1) ))
echo "{\"scenario\":\"$scenario\",\"binary\":\"$bin\",\"n1\":$n1,\"instructions_n1\":$i1,\"n2\":$n2,\"instructions_n2\":$i2,\"instructions_per_request\":$per}"
