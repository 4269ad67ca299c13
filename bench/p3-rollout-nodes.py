"""P3 (issue 13): release actions and their acknowledgments by every node.

Run by bench/p3-rollout-nodes.sh, which starts the nodes and publishes the
version released here. For each of N release actions on VERSION of APP in
REGION (rollout at a rising percentage, then halt, in turn, so every action
appends one event to the deployment log and changes what serves), this
records:

  sent      when the request was sent (the operator's click),
  answered  when its answer came,
  event     the event's `at` in `deployment_events` (taken in the action's
            transaction, just before its commit),
  ready     each node's `ready_at` in `node_status` for the event's sequence:
            the node's own clock when it acknowledged, after it swapped in
            the table built at that sequence with every version loaded.

`node_status` keeps only each node's latest acknowledgment, so the next
action is sent only once every node has acknowledged this one, and the
table is polled every POLL_S until then; the times are the nodes' own
`ready_at`, so the polling interval does not enter the figures.

Midway (before action N/2) one node's LISTEN connection is cut with
pg_terminate_backend; with CUT=each it is cut again before every action from
then on, each time on its new connection once it has reconnected. A cut
listener reconnects within milliseconds on loopback and reads the log as it
does, so CUT=hold also keeps it from reconnecting while the action is
acknowledged: before each action from the midpoint on, the database stops
taking new connections (ALTER DATABASE ... ALLOW_CONNECTIONS false; the
nodes' pools keep the connections they have), the listener is cut, and new
connections are allowed again only once every node has acknowledged, so the
cut node learns of the change from its 500 ms poll alone. After
each action every node is asked which version serves a few subjects, and
all must answer alike (after a halt: never VERSION).
"""

import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.request

import psycopg

POLL_S = 0.005
ACK_DEADLINE_S = 60.0
SUBJECTS = [f"p3-citizen-{i}" for i in range(20)]


def now_ms():
    return time.time() * 1000.0


def call(url, token, method="GET", body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def listener_pid(db, node, not_pid=None, deadline_s=60.0):
    """The backend pid of `node`'s LISTEN connection, once it is connected
    (a new one when `not_pid` names the old)."""
    start = time.monotonic()
    while True:
        rows = db.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
            (f"tongban-listen {node}",),
        ).fetchall()
        pids = [r[0] for r in rows]
        if len(pids) == 1 and pids[0] != not_pid:
            return pids[0]
        if time.monotonic() - start > deadline_s:
            sys.exit(f"{node}'s listener did not (re)connect within {deadline_s}s: {pids}")
        time.sleep(0.01)


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(label, values):
    if not values:
        return f"{label:<46} n=0"
    return (
        f"{label:<46} n={len(values):<4} p50 {percentile(values, 50):7.1f}  p90 {percentile(values, 90):7.1f}"
        f"  p99 {percentile(values, 99):7.1f}  max {max(values):7.1f}  (ms)"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--admin-url", help="another database on the server, for CUT=hold's ALTER DATABASE")
    parser.add_argument("--node", action="append", required=True, help="ID=URL, once per node")
    parser.add_argument("--token", required=True, help="the region admin's API token")
    parser.add_argument("--app", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--version", required=True, help="the approved version released here")
    parser.add_argument("--base-version", required=True, help="the version that serves when it does not")
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--cut-node", required=True)
    parser.add_argument("--cut", choices=["once", "each", "hold"], default="once")
    parser.add_argument("--send-to", choices=["rotate", "first"], default="rotate")
    parser.add_argument("--csv", help="write every action's figures here")
    args = parser.parse_args()
    nodes = [tuple(n.split("=", 1)) for n in args.node]
    ids = [n for n, _ in nodes]
    if not 2 <= args.actions <= 198:
        # Rollouts at 1..99 % between halts; 100 % would supersede the base
        # version (more than one event) and end the cycle.
        sys.exit("--actions is 2 to 198")
    db = psycopg.connect(args.database_url, autocommit=True)
    database = db.info.dbname
    if args.cut == "hold":
        if not args.admin_url:
            sys.exit("--cut hold needs --admin-url")
        # PostgreSQL does not let a connection disallow connections to its
        # own database.
        admin = psycopg.connect(args.admin_url, autocommit=True)

    rows = []
    cut_at = args.actions // 2
    cut_pid = None
    last_seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM deployment_events").fetchone()[0]
    percentage = 0
    for i in range(args.actions):
        cut = i == cut_at or (args.cut != "once" and i > cut_at)
        hold = cut and args.cut == "hold"
        if cut:
            cut_pid = listener_pid(db, args.cut_node, cut_pid)
            if hold:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            terminated = db.execute("SELECT pg_terminate_backend(%s)", (cut_pid,)).fetchone()[0]
            if not terminated:
                sys.exit(f"pg_terminate_backend({cut_pid}) did not cut {args.cut_node}'s listener")
        if i % 2 == 0:
            percentage += 1
            action = {"action": "rollout", "region": args.region, "percentage": percentage}
            name = f"rollout {percentage}%"
        else:
            action = {"action": "halt", "region": args.region}
            name = "halt"
        target_id, target = nodes[0] if args.send_to == "first" else nodes[i % len(nodes)]
        sent = now_ms()
        status, answer = call(
            f"{target}/api/v1/apps/{args.app}/versions/{args.version}/release", args.token, "POST", action
        )
        answered = now_ms()
        if status != 200:
            sys.exit(f"action {i} ({name}) on {target_id}: {status} {answer}")
        seq, event_at = db.execute(
            "SELECT seq, at FROM deployment_events WHERE seq > %s ORDER BY seq DESC LIMIT 1", (last_seq,)
        ).fetchone()
        events = db.execute("SELECT COUNT(*) FROM deployment_events WHERE seq > %s", (last_seq,)).fetchone()[0]
        if events != 1:
            sys.exit(f"action {i} ({name}) appended {events} events, not one")
        start = time.monotonic()
        while True:
            status_rows = db.execute("SELECT node_id, applied_seq, ready_at FROM node_status").fetchall()
            acked = {node: (applied, ready) for node, applied, ready in status_rows if node in ids}
            if len(acked) == len(ids) and all(a is not None and a >= seq for a, _ in acked.values()):
                break
            if time.monotonic() - start > ACK_DEADLINE_S:
                sys.exit(f"action {i} ({name}, seq {seq}): not every node acknowledged in {ACK_DEADLINE_S}s: {acked}")
            time.sleep(POLL_S)
        if hold:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        for node, (applied, _) in acked.items():
            # Nothing newer was appended, so each node's row is this very
            # acknowledgment and its ready_at is when it was made.
            if applied != seq:
                sys.exit(f"{node} acknowledged {applied}, past the newest event {seq}")
        ready = {node: acked[node][1] for node in ids}
        rows.append(
            {
                "i": i,
                "action": name,
                "to": target_id,
                "seq": seq,
                "after_cut": i >= cut_at,
                "cut_before": cut,
                "sent": sent,
                "answered": answered,
                "event": event_at,
                "ready": ready,
            }
        )
        last_seq = seq
        # What serves, asked of every node: they agree, and a halted version
        # serves nobody.
        served = {}
        for node_id, url in nodes:
            answers = []
            for subject in SUBJECTS:
                status, body = call(f"{url}/api/v1/serving/{args.region}/{args.app}?subject={subject}", args.token)
                if status != 200:
                    sys.exit(f"{node_id} serves {subject} nothing: {status} {body}")
                answers.append(body["version"])
            served[node_id] = answers
        if len({tuple(a) for a in served.values()}) != 1:
            sys.exit(f"after action {i} ({name}) the nodes serve differently: {served}")
        if name == "halt" and args.version in served[ids[0]]:
            sys.exit(f"after a halt {args.version} still serves: {served[ids[0]]}")
        if not set(served[ids[0]]) <= {args.version, args.base_version}:
            sys.exit(f"unexpected versions served: {served[ids[0]]}")

    if args.csv:
        with open(args.csv, "w") as out:
            out.write("i,action,to,seq,cut_before,sent_to_answer_ms,event_to_" + ",event_to_".join(ids) + ",sent_to_all_ms\n")
            for r in rows:
                per_node = ",".join(f"{r['ready'][n] - r['event']:.0f}" for n in ids)
                out.write(
                    f"{r['i']},{r['action']},{r['to']},{r['seq']},{int(r['cut_before'])},"
                    f"{r['answered'] - r['sent']:.1f},{per_node},{max(r['ready'].values()) - r['sent']:.1f}\n"
                )

    def figures(subset, label):
        print(f"-- {label}")
        print(summary("request sent -> all 3 nodes acknowledged", [max(r["ready"].values()) - r["sent"] for r in subset]))
        print(summary("event recorded -> all 3 nodes acknowledged", [max(r["ready"].values()) - r["event"] for r in subset]))
        print(summary("request sent -> answer", [r["answered"] - r["sent"] for r in subset]))
        for node in ids:
            print(summary(f"event recorded -> {node} acknowledged", [r["ready"][node] - r["event"] for r in subset]))

    print(f"{len(rows)} release actions of {args.app}@{args.version} in {args.region}, sent to "
          f"{'each node in turn' if args.send_to == 'rotate' else ids[0]}; "
          f"{args.cut_node}'s LISTEN connection cut before action {cut_at}"
          + {"once": "", "each": " and every one after it",
             "hold": " and every one after it, with no reconnect until all acknowledged"}[args.cut])
    print("times: sent/answered on this client's clock, event at and ready_at on the nodes' (one machine)")
    figures(rows, "all actions")
    figures([r for r in rows if r["after_cut"]], f"actions from the cut on (action {cut_at} onward)")
    first = rows[0]
    print(
        f"-- the first action ({first['action']}, the version's first rollout): request sent -> all acknowledged "
        f"{max(first['ready'].values()) - first['sent']:.1f} ms; per node after the event: "
        + ", ".join(f"{n} {first['ready'][n] - first['event']:.0f}" for n in ids)
    )
    worst = max(rows, key=lambda r: max(r["ready"].values()) - r["sent"])
    print(
        f"-- the slowest action: #{worst['i']} {worst['action']} sent to {worst['to']}"
        f"{' (listener cut just before)' if worst['cut_before'] else ''}: "
        f"{max(worst['ready'].values()) - worst['sent']:.1f} ms; per node after the event: "
        + ", ".join(f"{n} {worst['ready'][n] - worst['event']:.0f}" for n in ids)
    )
    listener_pid(db, args.cut_node, cut_pid)
    print(f"{args.cut_node}'s listener is connected again after the last cut")


if __name__ == "__main__":
    main()
