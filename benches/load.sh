#!/usr/bin/env bash
# The load benchmark behind BENCHMARKS.md: for SQLite and for PostgreSQL, in one run, the
# durable single-row commit rate (`commit`), the transport + authentication ceiling
# (`ceiling`), and the broker's scenarios (`disclose`, `decide`, `inbox`), each against a
# fresh broker over mTLS; then the ratios disclose/commit and disclose/ceiling.
#
#   benches/load.sh [duration] [connections]        e.g. benches/load.sh 10s 32
#
# Environment: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres; a database
# broker_load is created afresh on that server), BENCH_DATABASES (default "sqlite postgres"),
# BENCH_SCENARIOS (default "commit ceiling disclose decide inbox"), BENCH_DIR (default: a temp dir),
# BENCH_SQLITE_URL / BENCH_PG_DB_URL to drive an existing (e.g. bulk-seeded) database instead,
# BENCH_STORED=N to mix N records sampled from those `broker bench-seed` stored into disclose
# and decide (default 0), BENCH_BROKER=/abs/path to run a broker binary built elsewhere (another
# commit's, for a before and after) instead of building this checkout's, BENCH_LOADGEN=/abs/path
# to drive it with another binary's `loadgen` (the same client for a before and after; default
# the broker binary itself). With a server, each line carries `server_cpu_us`: the broker's CPU
# time (user + system, /proc/<pid>/stat) per answered request over the timed run.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
connections=${2:-32}
pg_admin=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
databases=${BENCH_DATABASES:-sqlite postgres}
scenarios=${BENCH_SCENARIOS:-commit ceiling disclose decide inbox}
port=${BENCH_PORT:-9743}
stored=${BENCH_STORED:-0}

broker=${BENCH_BROKER:-}
if [ -z "$broker" ]; then
  cargo build --release --locked --quiet
  broker=target/release/broker
fi
loadgen=${BENCH_LOADGEN:-$broker}
dir=${BENCH_DIR:-$(mktemp -d)}
[ -f "$dir/broker.toml" ] || "$broker" dev-init --dir "$dir" --listen "127.0.0.1:$port" >/dev/null
# the metrics listener beside the bench port, not the dev default another broker may hold
sed -i "s/^listen = \"127.0.0.1:9464\"/listen = \"127.0.0.1:$((port + 1))\"/" "$dir/broker.toml"
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null || true' EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uname -r), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $broker"
for db in $databases; do
  if [ "$db" = sqlite ]; then
    url=${BENCH_SQLITE_URL:-sqlite://$dir/data/bench-$$.db}
  else
    url=${BENCH_PG_DB_URL:-}
    if [ -z "$url" ]; then
      psql "$pg_admin" -qc "DROP DATABASE IF EXISTS broker_load" -c "CREATE DATABASE broker_load" >/dev/null
      url="${pg_admin%/*}/broker_load"
    fi
  fi
  declare -A rps=()
  for scenario in $scenarios; do
    if [ "$scenario" != commit ]; then
      BROKER_DATABASE_URL=$url BROKER_SERVER_LISTEN=127.0.0.1:$port "$broker" serve --config "$dir/broker.toml" >"$dir/serve.log" 2>&1 &
      server=$!
      for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    fi
    extra=()
    case $scenario in disclose|decide) extra=(--stored "$stored") ;; esac
    # the broker's CPU per answered request over the timed run (server_cpu_us)
    [ -n "$server" ] && extra+=(--server-pid "$server")
    line=$(BROKER_DATABASE_URL=$url "$loadgen" loadgen --addr "127.0.0.1:$port" --config "$dir/broker.toml" \
      --scenario "$scenario" --connections "$connections" --duration "$duration" "${extra[@]}")
    echo "{\"database\":\"$db\",${line#\{}"
    rps[$scenario]=$(echo "$line" | sed -E 's/.*"throughput_rps":([0-9.]+).*/\1/')
    if [ -n "$server" ]; then kill "$server"; wait "$server" 2>/dev/null || true; server=; fi
  done
  if [ -n "${rps[disclose]:-}" ]; then
    for base in commit ceiling; do
      [ -n "${rps[$base]:-}" ] && echo "{\"database\":\"$db\",\"ratio\":\"disclose/$base\",\"value\":$(awk "BEGIN{printf \"%.3f\", ${rps[disclose]} / ${rps[$base]}}")}"
    done
  fi
  unset rps
done
