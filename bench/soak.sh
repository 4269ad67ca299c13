#!/usr/bin/env bash
# Soak (issue 13, item 8): 200 connections of mixed requests (signed-in and
# public pages, applications, the staff's steps on the cases the run opens)
# for 10 minutes against a fresh `tongban serve --demo` (release build), on
# SQLite or PostgreSQL, with the server's RSS sampled every 5 s.
#
#   bench/soak.sh sqlite|postgres [DURATION=10m] [CONNECTIONS=200]
#
# Prints the answers by status and by kind (bench/soak.lua says what each
# kind is), 503s by error code, the count of 5xx other than 503, the server's
# own log of failed requests, and the RSS: first, last, highest, and the
# least-squares slope after the warm-up (bench/soak_rss.py). Admission
# control is the shipped default unless PER_APP / ON_NODE say otherwise.
# Loopback only. Needs wrk (`apt-get install wrk`) and python3. Not part of
# the test command: it takes the whole machine for the duration.
set -euo pipefail
backend=${1:?sqlite or postgres}
duration=${2:-10m}
connections=${3:-200}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release/tongban
[ -x "$bin" ] || cargo build --release -p tongban --manifest-path "$root/Cargo.toml"
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
store=(--data-dir "$work/data")
if [ "$backend" = postgres ]; then
  db=tongban_soak_$$
  psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
  store+=(--database-url "postgres://postgres@127.0.0.1:5432/$db")
fi
cleanup() {
  [ -n "${sampler:-}" ] && kill "$sampler" 2>/dev/null
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ "$backend" = postgres ] && psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  rm -rf "$work"
}
trap cleanup EXIT

seconds() { # wrk's duration (90s, 10m, 1h) in seconds
  case $1 in
    *h) echo $((${1%h} * 3600)) ;; *m) echo $((${1%m} * 60)) ;; *s) echo "${1%s}" ;; *) echo "$1" ;;
  esac
}

config=$work/tongban.toml
: > "$config"
if [ -n "${PER_APP:-}${ON_NODE:-}" ]; then
  printf '[admission]\napplications-per-app = %s\napplications-on-node = %s\n' \
    "${PER_APP:-32}" "${ON_NODE:-128}" > "$config"
fi
# The demo builds the example app in the apps' own target directory (their
# .cargo/config.toml), not in the host's, whose build lock may be held.
env -u CARGO_TARGET_DIR "$bin" serve --demo --config "$config" --listen "127.0.0.1:$port" "${store[@]}" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  grep -q "serving on" "$work/serve.log" 2>/dev/null && break
  sleep 0.5
done
token_of() { awk -v who="$1" '$1 == who { print $3 }' "$work/serve.log"; }
citizen=$(token_of zhangsan)
lisi=$(token_of lisi)
clerk=$(token_of clerk)
handler=$(token_of handler)
[ -n "$citizen" ] && [ -n "$clerk" ] && [ -n "$handler" ] && [ -n "$lisi" ] ||
  { cat "$work/serve.log"; echo "no demo tokens"; exit 1; }
app=cn.gov.hz.amr.sole-proprietor
handling_org=113301060024896013

# Both citizens grant the app the consent it asks, as on the consent page.
api() { local who=$1; shift; curl -sf -H "Authorization: Bearer $who" -H 'Content-Type: application/json' "$@"; }
for who in "$citizen" "$lisi"; do
  consent=$(api "$who" -d "{\"region\":\"330100\",\"app\":\"$app\"}" "$url/api/v1/consents" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d["consent"]["id"])')
  api "$who" -d '{"days":30}' "$url/api/v1/consents/$consent/grant" > /dev/null
done
# 李四, whose pages the run reads, has one case of her own.
page_case=$(api "$lisi" "$url/api/v1/applications" -d "{\"region\":\"330100\",\"app\":\"$app\",\"submission_key\":\"soak-lisi\",\"form\":
  {\"operator\":{\"name\":\"李四\",\"id-number\":\"330102198512120024\",\"phone\":\"13900139000\"},
   \"business\":{\"trade-name\":\"解放路面馆\",\"industry\":\"餐饮\",\"scope\":[\"餐饮服务\"],\"address\":\"浙江省杭州市上城区解放路1号\",\"capital-yuan\":30000}}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["case"]["id"])')

# 李四 signs in through the sign-in form, as a browser does.
jar=$work/cookies
form_token=$(curl -sf -c "$jar" "$url/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -sf -o /dev/null -b "$jar" -c "$jar" --data-urlencode user=lisi --data-urlencode password=tongban-demo \
  --data-urlencode "csrf=$form_token" --data-urlencode next=/ "$url/login"
session=$(awk '$6 == "tb_session" { print $6 "=" $7 }' "$jar")
[ -n "$session" ] || { echo "signing in as lisi failed"; exit 1; }
stylesheet=$(curl -sf "$url/" | grep -o '/assets/[^"]*\.css' | head -1)
for path in / /my/cases "/my/cases/$page_case" /my/wallet; do
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $session" "$url$path")
  [ "$status" = 200 ] || { echo "GET $path as lisi answered $status"; exit 1; }
done

echo "Soak on $backend: $connections connections for $duration against $url" \
  "(admission: ${PER_APP:-default} per app, ${ON_NODE:-default} on the node)"
uptime
# VmRSS every 5 s, from the moment the load begins (seconds, then kB).
samples=$work/rss
(
  started=$(date +%s)
  while kill -0 "$server" 2>/dev/null; do
    # VmRSS, then its anonymous (heap, wasm memories) and file-backed parts.
    rss=$(awk '/^(VmRSS|RssAnon|RssFile):/ { printf " %s", $2 }' "/proc/$server/status" 2>/dev/null) || break
    [ -n "$rss" ] || break
    echo "$(($(date +%s) - started))$rss" >> "$samples"
    sleep 5
  done
) &
sampler=$!
TONGBAN_TOKEN=$citizen TONGBAN_CLERK_TOKEN=$clerk TONGBAN_HANDLER_TOKEN=$handler \
  TONGBAN_HANDLING_ORG=$handling_org TONGBAN_SESSION=$session TONGBAN_PAGE_CASE=$page_case \
  TONGBAN_STYLESHEET=$stylesheet TONGBAN_APP=$app TONGBAN_RUN=$$ \
  wrk -t2 -c"$connections" -d"$duration" --timeout 10s -s "$root/bench/soak.lua" "$url" | tee "$work/wrk.out"
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
sampler=
uptime

echo "answers by status:"
awk '$1 == "answer" { n[$3] += $NF } END { for (s in n) printf "  %s: %d\n", s, n[s] }' "$work/wrk.out" | sort
echo "answers by kind (status: count):"
awk '$1 == "answer" { k = $2; s = (NF == 5 ? $3 " " $4 : $3); line[k] = line[k] sprintf(" %s: %d;", s, $NF); t[k] += $NF }
     END { for (k in t) printf "  %-9s %7d =%s\n", k, t[k], line[k] }' "$work/wrk.out" | sort
fivexx=$(awk '$1 == "answer" && $3 >= 500 && $3 != 503 { n += $NF } END { print n + 0 }' "$work/wrk.out")
echo "5xx other than 503: $fivexx"
echo "503 by code: $(awk '$1 == "answer" && $3 == 503 { n[$4] += $NF } END { for (c in n) printf "%s %d; ", c, n[c] }' "$work/wrk.out")"
echo "the server's log of failed requests (status >= 500), by route and status:"
grep 'request failed' "$work/serve.log" | sed 's/\x1b\[[0-9;]*m//g' |
  sed -n 's/.*route=\([^ ]*\)}: .*status=\([0-9]*\).*/\1 \2/p' | sort | uniq -c | sed 's/^/  /' || true
echo "other warnings in the server's log: $(grep -v 'tongban::request' "$work/serve.log" | grep -c 'WARN\|ERROR' || true)"
# The same warning about different cases counts as one.
grep -v 'tongban::request' "$work/serve.log" | grep 'WARN\|ERROR' | sed 's/\x1b\[[0-9;]*m//g' |
  sed -E 's/^[^ ]+ +//; s/(case|seq|payment|id)=[^ ]+ ?//g' | cut -c1-300 | sort | uniq -c | sort -rn | head -8 || true
python3 "$root/bench/soak_rss.py" "$samples" "$(seconds "$duration")"
sleep 30
echo "RSS 30 s after the load ended: $(awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$server/status")"
# What the run left: the applying citizen's case list (it is not paged).
curl -s -o /dev/null -w "GET /api/v1/me/cases as the applying citizen after the run: %{http_code}, %{size_download} bytes, %{time_total} s\n" \
  -H "Authorization: Bearer $citizen" "$url/api/v1/me/cases"
curl -s "$url/metrics" | grep -E '^tongban_(app_admission_refused|audit_seal)' || true
# KEEP_DIR=path keeps the server's log, the RSS samples and wrk's output.
if [ -n "${KEEP_DIR:-}" ]; then mkdir -p "$KEEP_DIR" && cp "$work/serve.log" "$samples" "$work/wrk.out" "$KEEP_DIR/"; fi
kill "$server"; wait "$server" 2>/dev/null || true
server=
# The case events the apps were to hear of, as the run left them: a backlog
# that grows through the run means delivery fell behind the load.
outbox="SELECT SUM(CASE WHEN deliver = 1 AND delivered_at IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN deliver = 2 AND delivered_at IS NULL THEN 1 ELSE 0 END),
  SUM(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) FROM case_events"
if [ "$backend" = postgres ]; then
  left=$(psql -h 127.0.0.1 -U postgres -d "$db" -AtF' ' -c "$outbox")
else
  left=$(sqlite3 -separator ' ' "$work/data/tongban.db" "$outbox" 2>/dev/null || echo "? ? ?")
fi
read -r waiting parked delivered <<< "$left"
echo "the case outbox after the run: $waiting events waiting, $parked parked, $delivered delivered"
"$bin" audit verify "${store[@]}"
