#!/usr/bin/env bash
# P3 (issue 13): from a release action to every one of 3 nodes serving it,
# measured from the nodes' acknowledgments in `node_status`, on PostgreSQL,
# with one node's LISTEN connection cut midway.
#
#   bench/p3-rollout-nodes.sh [ACTIONS] [CUT]
#
# ACTIONS release actions (default 100, at most 198); CUT is `once` (default:
# node-c's listener is cut with pg_terminate_backend before action
# ACTIONS/2), `each` (cut again before every action from then on) or `hold`
# (as `each`, and the database takes no new connection until every node has
# acknowledged, so node-c cannot reconnect and has only its poll).
# SEND_TO=first sends every action to node-a; by default they go to each
# node in turn, as behind a load balancer. CSV=FILE writes every action's
# figures; LOGS=DIR keeps the nodes' logs.
#
# Starts three release `tongban serve` nodes (node-a with --demo, which
# seeds; node-b and node-c after it is up) on a fresh PostgreSQL database,
# each with its own data directory and one shared blob folder; publishes and
# approves 1.0.1 of the demo app (the demo's 1.0.0 repackaged, so both serve
# the same component); then rolls 1.0.1 out in region 330100 at 1 %, halts
# it, rolls it out at 2 %, halts it, and so on, as the demo's region admin
# through POST /api/v1/apps/{app}/versions/{version}/release. The timing and
# the figures are bench/p3-rollout-nodes.py's. Loopback only; needs psql and
# python3 (psycopg is installed into a virtualenv under ~/.cache on first
# use).
set -euo pipefail
actions=${1:-100}
cut=${2:-once}
root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin=$target/release/tongban
[ -x "$bin" ] || cargo build --release -p tongban --manifest-path "$root/Cargo.toml"
venv=${XDG_CACHE_HOME:-$HOME/.cache}/tongban-bench-venv
if ! "$venv/bin/python" -c 'import psycopg' 2> /dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'psycopg[binary]'
fi
app=cn.gov.hz.amr.sole-proprietor
region=330100
work=$(mktemp -d)
db=tongban_p3_$$
url=postgres://postgres@127.0.0.1:5432/$db
psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2> /dev/null || true; done
  psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  [ -n "${LOGS:-}" ] && mkdir -p "$LOGS" && cp "$work"/node-*.log "$LOGS"/
  rm -rf "$work"
}
trap cleanup EXIT

# start NODE [FLAGS...]: a node on a free loopback port; sets `started` to
# its URL once it serves.
start() {
  local node=$1
  shift
  "$bin" serve --listen 127.0.0.1:0 --node-id "$node" --data-dir "$work/$node" \
    --database-url "$url" --blob-url "file://$work/blobs" "$@" > "$work/$node.log" 2>&1 &
  servers+=($!)
  for _ in $(seq 1 1200); do
    if grep -q "serving on" "$work/$node.log"; then
      started=$(grep -o 'serving on http://[0-9.:]*' "$work/$node.log" | sed 's/serving on //')
      return
    fi
    kill -0 "${servers[-1]}" 2> /dev/null || break
    sleep 0.25
  done
  cat "$work/$node.log" >&2
  echo "$node did not start" >&2
  exit 1
}

start node-a --demo
node_a=$started
for _ in $(seq 1 40); do grep -q "example app" "$work/node-a.log" && break; sleep 0.25; done
token() { awk -v who="$1" '$1 == who { print $3 }' "$work/node-a.log"; }
region_admin=$(token region-admin)
publisher=$(token publisher)
reviewer=$(token reviewer)
[ -n "$region_admin" ] && [ -n "$publisher" ] && [ -n "$reviewer" ] || {
  cat "$work/node-a.log"
  echo "no demo tokens"
  exit 1
}
start node-b
node_b=$started
start node-c
node_c=$started

# 1.0.1: the demo's package with its manifest's version changed and a custom
# section appended to its component (the same code, but a new component
# digest, so every node compiles it as it would a new release; node-a, where
# it is approved, in the background, the others at its first rollout),
# signed with the demo bureau's key, published and approved through node-a.
"$bin" app build "$root/plugins/sole-proprietor" --out "$work/1.0.0.tbpkg" > /dev/null
python3 - "$work/1.0.0.tbpkg" "$work/1.0.1.tbpkg" << 'EOF'
import io, sys, tarfile
source, target = sys.argv[1:]
with tarfile.open(source, "r:gz") as old, tarfile.open(target, "w:gz") as new:
    for member in old.getmembers():
        data = old.extractfile(member).read()
        if member.name == "signature.json":
            continue
        if member.name == "tongban.toml":
            data = data.replace(b'version = "1.0.0"', b'version = "1.0.1"', 1)
        if member.name == "component.wasm":
            # A custom section (id 0): its name, then its payload.
            name, payload = b"tongban-bench-p3", b"1.0.1"
            body = bytes([len(name)]) + name + payload
            data += bytes([0, len(body)]) + body
        member.size = len(data)
        new.addfile(member, io.BytesIO(data))
EOF
export TONGBAN_SERVER=$node_a
TONGBAN_TOKEN=$publisher "$bin" app publish "$work/1.0.1.tbpkg" --key "$work/node-a/demo/publisher.key" > /dev/null
acks=$(TONGBAN_TOKEN=$reviewer "$bin" review show "$app" 1.0.1 | awk '/\[needs --ack\]/ { printf " --ack %s", $2 }')
# shellcheck disable=SC2086
TONGBAN_TOKEN=$reviewer "$bin" review approve "$app" 1.0.1 $acks > /dev/null

# Every node live and at the newest change before the first action.
for _ in $(seq 1 1200); do
  behind=$(psql "$url" -Atc "SELECT COUNT(*) FROM node_status WHERE applied_seq IS NULL
    OR applied_seq < (SELECT COALESCE(MAX(seq), 0) FROM deployment_events)")
  nodes=$(psql "$url" -Atc "SELECT COUNT(*) FROM node_status")
  [ "$nodes" = 3 ] && [ "$behind" = 0 ] && break
  sleep 0.25
done
[ "$nodes" = 3 ] && [ "$behind" = 0 ] || { echo "the nodes did not all come up to date"; exit 1; }

echo "P3: 3 nodes on PostgreSQL ($node_a, $node_b, $node_c), $actions release actions, cut $cut"
"$venv/bin/python" "$root/bench/p3-rollout-nodes.py" --database-url "$url" \
  --admin-url postgres://postgres@127.0.0.1:5432/test \
  --node "node-a=$node_a" --node "node-b=$node_b" --node "node-c=$node_c" \
  --token "$region_admin" --app "$app" --region "$region" --version 1.0.1 --base-version 1.0.0 \
  --actions "$actions" --cut-node node-c --cut "$cut" --send-to "${SEND_TO:-rotate}" \
  ${CSV:+--csv "$CSV"}
echo "listener lost/reconnect lines in node-c's log:"
grep -c "connection listening for deployment events was lost" "$work/node-c.log" || true
