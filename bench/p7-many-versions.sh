#!/usr/bin/env bash
# P7 (issue 13): 1,000 installed app versions on one node: the server's
# resident memory once all are loaded and each has answered a call, and a
# warm restart's time to serving.
#
#   bench/p7-many-versions.sh [VERSIONS] [sqlite|postgres]
#
# Set-up (not under the lock; it is mostly compiling): a fresh release
# `tongban serve --demo` on loopback publishes the first app itself; the
# `p7_versions` example then publishes VERSIONS-1 (default 999) copies of it
# through the same server by the real path: each its own app id and its own
# component bytes (a custom section appended, so no two share a digest or a
# compiled artifact), signed with the demo bureau's key, uploaded (checks and
# a compile), approved and rolled out to 100 % of 330100. Every version then
# answers one `validate`, and the set-up server's VmRSS and VmHWM are
# printed.
#
# Measured (under `flock /tmp/bench.lock`): the server is stopped (SIGTERM)
# and started again, without --demo, on the same data directory and compiled
# artifact cache. From just before the process is started, the script times
# the first correct `validate` answer (200, version 1.0.0, a validate result)
# of the first app and then of the last copy, and the node's acknowledgement
# of the deployment log (every served version loaded). Then every version
# answers one `validate` and the restarted server's VmRSS and VmHWM are read
# from /proc/PID/status.
#
# P7_WORK=DIR keeps the set-up in DIR (made if missing, kept at the end), so
# a second run with the same DIR measures again without setting up again.
# Loopback only.
set -euo pipefail
versions=${1:-1000}
backend=${2:-sqlite}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
if [ -n "${P7_WORK:-}" ]; then
  work=$P7_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d)
fi
# Copied at once, so the binaries measured are the ones just built even if
# another build replaces them in a shared target directory meanwhile.
cargo build --release -p tongban --bin tongban --example p7_versions --manifest-path "$root/Cargo.toml"
cp "$target/release/tongban" "$work/tongban"
cp "$target/release/examples/p7_versions" "$work/p7_versions"
bin=$work/tongban
tool=$work/p7_versions
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
store=(--data-dir "$work/data")
if [ "$backend" = postgres ]; then
  db=tongban_p7_$(basename "$work" | tr -c 'a-zA-Z0-9_\n' _)
  psql -h 127.0.0.1 -U postgres -d test -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
  store+=(--database-url "postgres://postgres@127.0.0.1:5432/$db")
fi
cleanup() {
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; fi
  if [ -z "${P7_WORK:-}" ]; then
    [ "$backend" = postgres ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# The server's resident memory now, in MiB: VmRSS (RssAnon + RssFile +
# RssShmem) and the peak VmHWM.
memory() {
  awk '/^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):/ { printf "%s %.0f MiB  ", $1, $2 / 1024 } END { print "" }' "/proc/$1/status"
}
# How much of the resident memory is compiled artifacts mapped from the
# cache (file-backed, in the page cache), and over how many mappings.
artifacts() {
  awk '/^[0-9a-f]+-[0-9a-f]+ / { art = ($NF ~ /\.cwasm$/); if (art) n++ }
       art && /^Rss:/ { kb += $2 }
       END { printf "compiled artifacts resident %.0f MiB in %d mappings\n", kb / 1024, n }' "/proc/$1/smaps"
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_listening() {
  for _ in $(seq 1 1200); do
    grep -q "serving on" "$1" 2>/dev/null && return 0
    kill -0 "$server" 2>/dev/null || { cat "$1"; echo "the server exited"; exit 1; }
    sleep 0.1
  done
  cat "$1"; echo "the server never listened"; exit 1
}

if [ -f "$work/setup.done" ]; then
  echo "== set-up: kept in $work (P7_WORK); measuring only"
  admin=$(cat "$work/admin.token")
else
  # The first app's package, the template of the copies (the demo builds the
  # same source again, which cargo finds done).
  package=$work/first-app.tbpkg
  "$bin" app build "$root/plugins/sole-proprietor" --out "$package" > /dev/null
  echo "== set-up: $versions versions on $backend in $work, server at $url"
  "$bin" serve --demo --listen "127.0.0.1:$port" "${store[@]}" > "$work/setup.log" 2>&1 &
  server=$!
  wait_listening "$work/setup.log"
  token() { awk -v who="$1" '$1 == who { print $3 }' "$work/setup.log"; }
  admin=$(token admin)
  [ -n "$admin" ] || { cat "$work/setup.log"; echo "no demo token"; exit 1; }
  started=$(now_ms)
  TONGBAN_PUBLISHER_TOKEN=$(token publisher) TONGBAN_REVIEWER_TOKEN=$(token reviewer) \
    TONGBAN_REGION_ADMIN_TOKEN=$(token region-admin) \
    "$tool" publish "$url" "$package" "$work/data/demo/publisher.key" $((versions - 1))
  echo "set-up publishing took $((($(now_ms) - started) / 1000)) s"
  TONGBAN_TOKEN=$admin "$tool" call "$url" $((versions - 1))
  echo "set-up server, all $versions versions loaded and called: $(memory "$server")"
  kill "$server"; wait "$server" 2>/dev/null || true
  server=
  echo "$admin" > "$work/admin.token"
  touch "$work/setup.done"
fi

# One validate call; prints the HTTP status, or 000 while nothing listens.
validate() {
  curl -s -o "$work/answer.json" -w '%{http_code}' -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' \
    -d '{"subject":"citizen-p7","form":{"operator":{"name":"张三","id-number":"11010519491231002X","phone":"13800138000"},"business":{"trade-name":"西湖小厨","industry":"餐饮","scope":["餐饮服务"],"address":"杭州市西湖区文三路90号"}}}' \
    "$url/api/v1/serving/330100/$1/validate" || true
}
# Wait until APP answers validate correctly; prints the ms since $t0.
serving_after() {
  while :; do
    status=$(validate "$1")
    if [ "$status" = 200 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["version"] == "1.0.0" and d["result"]["hook"] == "validate" else 1)' "$work/answer.json"; then
      echo $(($(now_ms) - t0))
      return
    fi
    case $status in
      000) ;;
      *) echo "status $status: $(cat "$work/answer.json")" >&2 ;;
    esac
    kill -0 "$server" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
    sleep 0.01
  done
}

echo "== measured: warm restart (waiting for /tmp/bench.lock)"
exec 9> /tmp/bench.lock
flock 9
echo "load before: $(uptime)"
last=$(printf 'cn.gov.hz.amr.p7-%04d' $((versions - 1)))
t0=$(now_ms)
TONGBAN_LOG="warn,tongban::follower=info" "$bin" serve --listen "127.0.0.1:$port" "${store[@]}" > "$work/restart.log" 2>&1 &
server=$!
first_ms=$(serving_after cn.gov.hz.amr.sole-proprietor)
last_ms=$(serving_after "$last")
echo "restart: first app answered validate after ${first_ms} ms, $last after ${last_ms} ms (from process start)"
for _ in $(seq 1 6000); do
  grep -q "acknowledged the deployment log" "$work/restart.log" && break
  sleep 0.05
done
echo "restart: every version loaded and acknowledged after $(($(now_ms) - t0)) ms (polled every 50 ms)"
echo "restarted server before calls: $(memory "$server")"
echo "  $(artifacts "$server")"
TONGBAN_TOKEN=$admin "$tool" call "$url" $((versions - 1))
echo "restarted server, all $versions versions loaded and called: $(memory "$server")"
echo "  $(artifacts "$server")"
echo "load after: $(uptime)"
flock -u 9
