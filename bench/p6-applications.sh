#!/usr/bin/env bash
# P6 (issue 13): 64 citizens applying at once to the first app, against a
# fresh `tongban serve --demo` (release build), on SQLite or PostgreSQL.
#
#   bench/p6-applications.sh sqlite|postgres [DURATION] [CONNECTIONS]
#
# Prints wrk's figures, the answers by status (503s are admission control's),
# the audit log's seal delay from /metrics, and `tongban audit verify` on the
# store after the run. Loopback only. Needs wrk (`apt-get install wrk`).
set -euo pipefail
backend=${1:?sqlite or postgres}
duration=${2:-60s}
connections=${3:-64}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/tongban
[ -x "$bin" ] || cargo build --release -p tongban --manifest-path "$root/Cargo.toml"
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
store=(--data-dir "$work/data")
if [ "$backend" = postgres ]; then
  db=tongban_bench_$$
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
  store+=(--database-url "postgres://postgres@127.0.0.1:5432/$db")
fi
cleanup() {
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ "$backend" = postgres ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  rm -rf "$work"
}
trap cleanup EXIT
# Admission control as configured; by default each app may have 64
# applications at once here (the shipped default is 32), so that 64 clients
# measure the platform rather than the bound. PER_APP=32 measures the default.
printf '[admission]\napplications-per-app = %s\napplications-on-node = 128\n' "${PER_APP:-64}" > "$work/tongban.toml"
"$bin" serve --demo --config "$work/tongban.toml" --listen "127.0.0.1:$port" "${store[@]}" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  grep -q "serving on" "$work/serve.log" 2>/dev/null && break
  sleep 0.5
done
token=$(awk '$1 == "zhangsan" { print $3 }' "$work/serve.log")
[ -n "$token" ] || { cat "$work/serve.log"; echo "no demo token"; exit 1; }
# The first app reads the applicant's identity attributes: the citizen
# grants it a consent first, as on the consent page.
api() { curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
consent=$(api -d '{"region":"330100","app":"cn.gov.hz.amr.sole-proprietor"}' "http://127.0.0.1:$port/api/v1/consents" |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d["consent"]["id"])')
api -d '{"days":30}' "http://127.0.0.1:$port/api/v1/consents/$consent/grant" > /dev/null
echo "P6 on $backend: $connections connections for $duration against 127.0.0.1:$port"
TONGBAN_TOKEN=$token TONGBAN_RUN=$$ wrk -t2 -c"$connections" -d"$duration" --latency \
  -s "$root/bench/p6-applications.lua" "http://127.0.0.1:$port"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^tongban_(audit_|app_admission_refused)' || true
kill "$server"; wait "$server" 2>/dev/null || true
server=
"$bin" audit verify "${store[@]}"
# Then the audit chain must catch an edit: change one sealed entry from the
# middle of the run (a provenance entry, as an insider hiding a read would)
# and `audit verify` has to name it and fail.
tamper_sql="UPDATE audit_log SET actor = actor || '-edited' WHERE seq = (SELECT seq FROM audit_log WHERE batch IS NOT NULL AND batch > 0 ORDER BY seq LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM audit_log WHERE batch IS NOT NULL AND batch > 0)) RETURNING seq, chain_position"
if [ "$backend" = postgres ]; then
  edited=$(psql -h 127.0.0.1 -U postgres -d "$db" -qAt -c "$tamper_sql" | head -1)
else
  edited=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchone(); c.commit(); print("%s|%s" % r)' "$work/data/tongban.db" "$tamper_sql")
fi
echo "edited the sealed audit entry (seq|chain position): $edited"
if "$bin" audit verify "${store[@]}"; then
  echo "audit verify did not notice the edit"; exit 1
fi
echo "audit verify refused the edited chain, as it must"
