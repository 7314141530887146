#!/usr/bin/env bash
# make bench: paygate's internal API on PostgreSQL + Redis under wrk, against the bare
# reference service (../shared/bench/floor.sh) measured in the same run. Prints one JSON line
# on stdout (progress goes to stderr). See docs/benchmarks.md.
#
#   1. checks the pure-Lua HMAC-SHA256 used by wrk against Python's hmac (selftest.py);
#   2. drops/creates the database $BENCH_DB, migrates it, seeds the demo app and the sandbox
#      Alipay account (PAYGATE_DATA_DIR in a temp dir);
#   3. starts `uvicorn --factory paygate.asgi:internal_app --workers 2` on 127.0.0.1;
#   4. wrk: POST /gopay (alipay.page, unique out_order_no, signed in Lua), warm-up + run;
#      checks: no non-2xx / socket errors, trades in the database == the run's successful
#      pays (+ at most the requests still in flight when wrk stopped), all of them pending;
#   5. wrk: POST /query/trade over the trades of step 4, warm-up + run, same error check;
#   5b. wrk, open loop: POST /gopay paced at half of step 4's rate (BENCH_RATE in the Lua
#      script: each connection waits a jittered gap between requests), same checks;
#      its p50/p99 are gopay_p50_half_load_ms / gopay_p99_half_load_ms;
#   5c. stops paygate; seeds pending trades with COPY and signs one Alipay TRADE_SUCCESS
#      notification for each (scripts/bench/notify.py); starts the public listener
#      (`paygate.asgi:public_app`, same workers) and POSTs each notification once to
#      /notify/alipay/<account>; checks: every answer is Alipay's "success", the database
#      holds as many succeeded trades and trade.succeeded events as answers (+ in flight);
#   6. runs floor.sh with the same duration/connections/workers;
#   7. prints {"gopay_rps", "gopay_p99_ms", "query_rps", ..., "gopay_vs_floor",
#      "gopay_vs_floor_rsa" (against the floor's create + one RSA-2048 signature),
#      "query_vs_hello", "notify_vs_floor" (against the floor's bare create: one transaction
#      with two writes, which is what a first notification must at least do), machine};
#      between 6 and 7, scripts/bench/events.py adds "events_per_second" (BENCH_SKIP_EVENTS=1: not)
#      and scripts/bench/reconcile.py "reconcile_1m_seconds", "reconcile_1m_peak_rss_mb",
#      "reconcile_stages" (BENCH_SKIP_RECONCILE=1: not; BENCH_RECON_LINES=N for another size).
# Every process it starts is stopped on exit, failure or interrupt. Only 127.0.0.1 is used.
#
# Knobs (environment): BENCH_SECONDS=10 BENCH_CONNECTIONS=32 BENCH_THREADS=2 BENCH_WORKERS=2
#   BENCH_WARMUP=2 BENCH_PORT=18078 BENCH_DB=paygate_bench BENCH_FLOOR=<first shared/bench/floor.sh above>
#   BENCH_KEEP=1 (keep the work dir)  BENCH_SKIP_FLOOR=1 (A/B experiments only: no floor, so no
#   gopay_vs_floor; the official figure always runs the floor)  BENCH_PROFILE=1 (after the measured runs: py-spy on one
#   worker during an extra, unmeasured gopay, query, cached query and notify run each, and the per-stage CPU
#   split of scripts/bench/profile_stages.py; installs py-spy in .venv; printed on stderr)
#   BENCH_EXISTING=N (the scale shape: N succeeded trades COPY-seeded before the runs)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/scripts/bench
bin=$root/.venv/bin
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
workers=${BENCH_WORKERS:-2}
warm=${BENCH_WARMUP:-2}
port=${BENCH_PORT:-18078}
db=${BENCH_DB:-paygate_bench}
# the floor lives in shared/bench/ beside the checkout, or beside a directory above it (a git
# worktree under /work/wt/<name> finds /work/shared)
find_floor() {
  local d=$root
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    [[ -f $d/shared/bench/floor.sh ]] && { echo "$d/shared/bench/floor.sh"; return; }
  done
  echo "$root/../shared/bench/floor.sh"
}
floor=${BENCH_FLOOR:-$(find_floor)}
pg=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA)

say() { echo "bench: $*" >&2; }
die() { echo "bench: FAILED: $*" >&2; exit 1; }

# ---------------------------------------------------------------- preconditions
command -v wrk >/dev/null || die "wrk (the HTTP load generator) is not installed. It is a Debian package: sudo apt-get install wrk"
command -v psql >/dev/null || die "psql is not installed (apt-get install postgresql-client)"
[[ -x $bin/uvicorn && -x $bin/paygate ]] || die "$bin has no paygate/uvicorn: run make install"
[[ -f $floor ]] || die "floor script not found: $floor"
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
up 5432 || die "PostgreSQL is not listening on 127.0.0.1:5432 (scripts/services.sh starts it)"
up 6379 || die "Redis is not listening on 127.0.0.1:6379 (scripts/services.sh starts it)"
up "$port" && die "port $port is already in use (set BENCH_PORT)"
[[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad BENCH_DB name: $db"

# ---------------------------------------------------------------- cleanup
work=$(mktemp -d /tmp/paygate-bench.XXXXXX)
server_pid="" floor_pid="" spy_pid=""
stop_group() {  # stop a process group we started (setsid), politely then firmly
  local pid=$1
  [[ -n $pid ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $spy_pid ]] && kill "$spy_pid" 2>/dev/null
  stop_group "$floor_pid"
  stop_group "$server_pid"
  wait 2>/dev/null
  if [[ $rc -ne 0 && -s $work/server.log ]]; then
    echo "bench: --- last lines of the paygate server log ---" >&2
    tail -n 30 "$work/server.log" >&2
  fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "work dir kept: $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- environment
for v in $(compgen -e | grep '^PAYGATE_' || true); do unset "$v"; done
export PAYGATE_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$db"
export PAYGATE_REDIS_URL="redis://127.0.0.1:6379/0"
export PAYGATE_DATA_DIR="$work/data"
export PAYGATE_INTERNAL_PORT="$port"
export PAYGATE_LOG_LEVEL=WARNING
mkdir -p "$PAYGATE_DATA_DIR"
cd "$work"

cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem_gib=$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
"$bin/python" - "$cpu_model" "$mem_gib" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" >machine.json <<'EOF'
import json, platform, sys
model, mem, nproc, load, commit = sys.argv[1:6]
print(json.dumps({"nproc": int(nproc), "cpu_model": model, "mem_gib": float(mem),
                  "loadavg_at_start": load, "python": platform.python_version(), "commit": commit}))
EOF
existing=${BENCH_EXISTING:-0}
printf '{"params": {"seconds": %s, "connections": %s, "threads": %s, "workers": %s, "warmup_s": %s, "pay_type": "alipay.page", "existing_trades": %s}}\n' \
  "$secs" "$conns" "$threads" "$workers" "$warm" "$existing" >params.json

# ---------------------------------------------------------------- 1. the Lua signer
"$bin/python" "$here/selftest.py" "$(command -v wrk)" "$here/selftest.lua" \
  || die "the Lua HMAC-SHA256 does not match Python's hmac"

# ---------------------------------------------------------------- 2. database + demo data
say "database $db: drop, create, migrate, seed"
"${pg[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
timeout 120 "$bin/paygate" migrate >&2
timeout 120 "$bin/paygate" demo seed >/dev/null
if ((existing > 0)); then  # the scale shape (issue 11 item 3): trades already there, by COPY
  say "seeding $existing existing (succeeded) trades with COPY"
  t0=$SECONDS
  timeout 1800 "$bin/python" "$here/seed.py" "$PAYGATE_DATABASE_URL" "$existing" "E$$" --state succeeded >/dev/null \
    || die "seed.py failed"
  say "seeded $existing trades in $((SECONDS - t0)) s"
fi
creds=$(timeout 60 "$bin/paygate" demo credentials)
read -r app_id secret < <("$bin/python" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["app_id"], d["secret"])' "$creds")
export BENCH_APP_ID=$app_id BENCH_SECRET=$secret

# ---------------------------------------------------------------- 3. paygate
say "starting paygate internal API: $workers uvicorn workers on 127.0.0.1:$port"
setsid "$bin/uvicorn" --factory paygate.asgi:internal_app --host 127.0.0.1 --port "$port" \
  --workers "$workers" --no-access-log --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || die "paygate exited at start-up"
  sleep 0.25
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || die "paygate did not answer /health in 30 s"
sleep 1  # let every worker finish its start-up

run_id=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

# wrk_phase NAME MODE TAG SECONDS [extra wrk args]: runs wrk, leaves NAME.json / NAME.txt
wrk_phase() {
  local name=$1 mode=$2 tag=$3 d=$4
  shift 4
  BENCH_MODE=$mode BENCH_TAG=$tag BENCH_OUT="$work/$name.json" \
    timeout $((d + 60)) wrk -t"$threads" -c"$conns" -d"${d}s" --timeout 10s "$@" \
    -s "$here/paygate.lua" "http://127.0.0.1:$port/" >"$work/$name.txt" 2>&1 \
    || { cat "$work/$name.txt" >&2; die "wrk failed ($name)"; }
  [[ -s $work/$name.json ]] || { cat "$work/$name.txt" >&2; die "wrk wrote no summary ($name)"; }
  "$bin/python" - "$work/$name.json" "$name" <<'EOF' || { cat "$work/$name.txt" >&2; die "$name: wrk saw errors (see above): a bench of errors is worthless"; }
import json, sys
s = json.load(open(sys.argv[1]))
bad = {k: v for k, v in s.items() if k.startswith("errors_") and v}
if bad or s["requests"] == 0:
    print(f"bench: {sys.argv[2]}: {s['requests']} requests, errors {bad} (errors_status = non-2xx/3xx)", file=sys.stderr)
    sys.exit(1)
EOF
}
jget() { "$bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

# trades_of TAG: how many trades the run TAG created, and how many are pending
trades_of() {
  "${pg[@]}" -d "$db" -F' ' -c "SELECT count(*), count(*) FILTER (WHERE state = 'pending') FROM trades WHERE out_order_no LIKE 'B$1-%'"
}
# settle TAG: wait until the run's trade count stops moving (in-flight requests finish)
settle() {
  local prev=-1 now
  for _ in $(seq 40); do
    now=$(trades_of "$1" | cut -d' ' -f1)
    [[ $now == "$prev" ]] && break
    prev=$now
    sleep 0.5
  done
}
# check_trades NAME TAG: trades in the database vs the run's successful and sent requests
check_trades() {
  local name=$1 tag=$2 ok sent n pending
  settle "$tag"
  ok=$(jget "$work/$name.json" requests)
  sent=$(jget "$work/$name.json" sent)
  read -r n pending < <(trades_of "$tag")
  say "$name: wrk ok=$ok sent=$sent, trades in the database=$n (pending=$pending)"
  ((n >= ok && n <= sent)) || die "$name: $n trades in the database for $ok successful pays ($sent sent)"
  ((pending == n)) || die "$name: $((n - pending)) of the $n trades are not pending"
  c_ok=$ok c_sent=$sent c_trades=$n
}

# ---------------------------------------------------------------- 4. /gopay
say "gopay: warm-up ${warm}s, then ${secs}s, $conns connections, $threads threads"
wrk_phase gopay_warm gopay "${run_id}w" "$warm"
check_trades gopay_warm "${run_id}w"
"$bin/python" "$here/cpu.py" snap "$work/cpu_a.json"
wrk_phase gopay gopay "${run_id}g" "$secs" --latency
"$bin/python" "$here/cpu.py" snap "$work/cpu_b.json"
check_trades gopay "${run_id}g"
g_ok=$c_ok g_sent=$c_sent g_trades=$c_trades
"$bin/python" "$here/cpu.py" diff "$work/cpu_a.json" "$work/cpu_b.json" --root $$ --server "$server_pid" \
  --reqs "$g_sent" >"$work/gopay_cpu.json"

# ---------------------------------------------------------------- 5. /query/trade
"${pg[@]}" -d "$db" -c "SELECT trade_no FROM trades WHERE out_order_no LIKE 'B${run_id}g-%' ORDER BY random()" >"$work/trades.txt"
export BENCH_TRADES=$work/trades.txt
say "query/trade over $(wc -l <"$work/trades.txt") trades: warm-up ${warm}s, then ${secs}s"
wrk_phase query_warm query "${run_id}x" "$warm"
"$bin/python" "$here/cpu.py" snap "$work/cpu_a.json"
wrk_phase query query "${run_id}q" "$secs" --latency
"$bin/python" "$here/cpu.py" snap "$work/cpu_b.json"
"$bin/python" "$here/cpu.py" diff "$work/cpu_a.json" "$work/cpu_b.json" --root $$ --server "$server_pid" \
  --reqs "$(jget "$work/query.json" sent)" >"$work/query_cpu.json"

# the cached path (issue 11: query_vs_hello): 64 trades polled over and over, as the pages of
# 64 payers waiting for their payment do; each worker reads a trade from the database once per
# PAYGATE_QUERY_CACHE_SECONDS
head -64 "$work/trades.txt" >"$work/trades_hot.txt"
say "query/trade, cached: 64 trades polled for ${secs}s"
BENCH_TRADES=$work/trades_hot.txt wrk_phase query_cached_warm query "${run_id}z" "$warm"
"$bin/python" "$here/cpu.py" snap "$work/cpu_a.json"
BENCH_TRADES=$work/trades_hot.txt wrk_phase query_cached query "${run_id}c" "$secs" --latency
"$bin/python" "$here/cpu.py" snap "$work/cpu_b.json"
"$bin/python" "$here/cpu.py" diff "$work/cpu_a.json" "$work/cpu_b.json" --root $$ --server "$server_pid" \
  --reqs "$(jget "$work/query_cached.json" sent)" >"$work/query_cached_cpu.json"

# ---------------------------------------------------------------- 5b. /gopay at half load
half=$("$bin/python" -c 'import json,sys; print(max(1, round(json.load(open(sys.argv[1]))["rps"] / 2)))' "$work/gopay.json")
say "gopay, open loop: ${secs}s paced at $half req/s (half of the closed-loop rate)"
BENCH_RATE=$half BENCH_CONNECTIONS=$conns wrk_phase gopay_half gopay "${run_id}h" "$secs" --latency
check_trades gopay_half "${run_id}h"
printf '{"checks": {"gopay_ok": %s, "gopay_sent": %s, "gopay_trades_in_db": %s, "gopay_half_ok": %s, "gopay_half_trades_in_db": %s, "non_2xx": 0}}\n' \
  "$g_ok" "$g_sent" "$g_trades" "$c_ok" "$c_trades" >checks.json

# ---------------------------------------------------------------- optional profile
# spy NAME COMMAND...: py-spy on one worker while COMMAND runs an extra, unmeasured phase;
# its summary by library goes to stderr, the raw stacks stay in $work/profile_NAME.txt
spy() {
  local name=$1 worker
  shift
  [[ -x $bin/py-spy ]] || "$bin/pip" install -q py-spy >&2
  worker=$(pgrep -P "$server_pid" -f multiprocessing-fork | head -1)
  say "profile: py-spy on worker $worker during an extra ${secs}s $name run (not measured)"
  "$bin/py-spy" record -p "$worker" -d "$secs" -r 200 --nonblocking -f raw -o "$work/profile_$name.txt" >/dev/null 2>&1 &
  spy_pid=$!
  "$@"
  wait "$spy_pid" || true
  spy_pid=""
  "$bin/python" "$here/profile_summary.py" "$work/profile_$name.txt" 20 >&2 || true
  BENCH_KEEP=1  # keep the raw stacks in the work dir
}
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
  spy gopay wrk_phase gopay_prof gopay "${run_id}p" "$((secs + 1))"
  spy query wrk_phase query_prof query "${run_id}y" "$((secs + 1))"
  BENCH_TRADES=$work/trades_hot.txt spy query_cached wrk_phase query_cached_prof query "${run_id}k" "$((secs + 1))"
  say "profile: CPU per stage of a /gopay (sequential, in-process; profile_stages.py)"
  timeout 300 "$bin/python" "$here/profile_stages.py" 400 >&2 || true
fi

# ---------------------------------------------------------------- 5c. inbound notifications
stop_group "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
# enough notifications that no thread runs out: 4 × the pay rate (a notification is cheaper)
per_s=$("$bin/python" -c 'import json,sys; print(max(400, int(json.load(open(sys.argv[1]))["rps"] * 4)))' "$work/gopay.json")
say "notify: seeding and signing $((per_s * (secs + warm))) Alipay notifications"
timeout 600 "$bin/python" "$here/notify.py" "$PAYGATE_DATABASE_URL" "$PAYGATE_DATA_DIR" "${run_id}m" \
  "$((per_s * warm))" "$work/bodies_warm.txt" >"$work/notify_seed_warm.json" || die "notify.py failed (warm-up set)"
timeout 600 "$bin/python" "$here/notify.py" "$PAYGATE_DATABASE_URL" "$PAYGATE_DATA_DIR" "${run_id}n" \
  "$((per_s * secs))" "$work/bodies_run.txt" >"$work/notify_seed.json" || die "notify.py failed"
account=$(jget "$work/notify_seed.json" account_id)
say "starting paygate public listener: $workers uvicorn workers on 127.0.0.1:$port"
setsid "$bin/uvicorn" --factory paygate.asgi:public_app --host 127.0.0.1 --port "$port" \
  --workers "$workers" --no-access-log --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 120); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break  # any answer (it has no /health)
  kill -0 "$server_pid" 2>/dev/null || die "paygate's public listener exited at start-up"
  sleep 0.25
done
curl -s -o /dev/null "http://127.0.0.1:$port/" || die "the public listener did not answer in 30 s"
sleep 1
# notify_counts TAG: succeeded trades among the seeded ones, and their trade.succeeded events
notify_counts() {
  "${pg[@]}" -d "$db" -F' ' -c "SELECT count(*) FILTER (WHERE t.state = 'succeeded'),
    (SELECT count(*) FROM outbox o JOIN trades u ON o.aggregate = u.trade_no
      WHERE u.out_order_no LIKE 'S$1-%' AND o.topic = 'trade.succeeded')
    FROM trades t WHERE t.out_order_no LIKE 'S$1-%'"
}
# notify_phase NAME BODIES TAG SECONDS [wrk args]: one wrk run, then the checks
notify_phase() {
  local name=$1 bodies=$2 tag=$3 d=$4 ok sent n events prev=-1
  shift 4
  BENCH_BODIES=$bodies BENCH_NTHREADS=$threads BENCH_NOTIFY_PATH=/notify/alipay/$account \
    wrk_phase "$name" notify "$tag" "$d" "$@"
  [[ $(jget "$work/$name.json" errors_reply) == 0 ]] || die "$name: notifications answered other than \"success\""
  for _ in $(seq 40); do  # the requests in flight when wrk stopped finish
    read -r n events < <(notify_counts "$tag")
    [[ $n == "$prev" ]] && break
    prev=$n
    sleep 0.5
  done
  ok=$(jget "$work/$name.json" requests)
  sent=$(jget "$work/$name.json" sent)
  say "$name: wrk ok=$ok sent=$sent, succeeded trades=$n, trade.succeeded events=$events"
  ((n >= ok && n <= sent)) || die "$name: $n trades succeeded for $ok notifications answered \"success\" ($sent sent)"
  ((events == n)) || die "$name: $events trade.succeeded events for $n succeeded trades"
  c_ok=$ok c_trades=$n
}
notify_phase notify_warm "$work/bodies_warm.txt" "${run_id}m" "$warm"
"$bin/python" "$here/cpu.py" snap "$work/cpu_a.json"
notify_phase notify "$work/bodies_run.txt" "${run_id}n" "$secs" --latency
"$bin/python" "$here/cpu.py" snap "$work/cpu_b.json"
"$bin/python" "$here/cpu.py" diff "$work/cpu_a.json" "$work/cpu_b.json" --root $$ --server "$server_pid" \
  --reqs "$(jget "$work/notify.json" sent)" >"$work/notify_cpu.json"
"$bin/python" - "$work/checks.json" "$c_ok" "$c_trades" <<'EOF'
import json, sys
p, ok, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(p))
d["checks"] |= {"notify_ok": ok, "notify_trades_succeeded": n}
open(p, "w").write(json.dumps(d) + "\n")
EOF
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
  timeout 600 "$bin/python" "$here/notify.py" "$PAYGATE_DATABASE_URL" "$PAYGATE_DATA_DIR" "${run_id}o" \
    "$((per_s * (secs + 1)))" "$work/bodies_prof.txt" >/dev/null || die "notify.py failed (profile set)"
  spy notify notify_phase notify_prof "$work/bodies_prof.txt" "${run_id}o" "$((secs + 1))"
fi
stop_group "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""

# ---------------------------------------------------------------- 6. the floor
# event dispatch: events delivered per second by `paygate worker`s (scripts/bench/events.py)
[[ ${BENCH_SKIP_EVENTS:-0} == 1 ]] || timeout 900 "$bin/python" "$here/events.py" >"$work/events.json" \
  || die "event dispatch bench failed (scripts/bench/events.py)"
# reconciliation: a 1,000,000-line bill against 1,000,000 trades (scripts/bench/reconcile.py)
if [[ ${BENCH_SKIP_RECONCILE:-0} != 1 ]]; then
  say "reconciliation: ${BENCH_RECON_LINES:-1000000} lines"
  timeout 1800 "$bin/python" "$here/reconcile.py" >"$work/reconcile.json" \
    || die "reconciliation bench failed (scripts/bench/reconcile.py)"
fi
if [[ ${BENCH_SKIP_FLOOR:-0} == 1 ]]; then
  say "BENCH_SKIP_FLOOR=1: no floor in this run"
  "$bin/python" "$here/report.py" "$work"
  exit 0
fi
say "paygate stopped; floor: $(basename "$floor") $secs $conns $workers"
"$bin/python" "$here/cpu.py" snap "$work/cpu_a.json"
setsid bash "$floor" "$secs" "$conns" "$workers" >"$work/floor.out" 2>"$work/floor.err" &
floor_pid=$!
wait "$floor_pid" || { cat "$work/floor.err" "$work/floor.out" >&2; die "floor.sh failed"; }
floor_done=$floor_pid
floor_pid=""
"$bin/python" "$here/cpu.py" snap "$work/cpu_b.json"
"$bin/python" "$here/cpu.py" diff "$work/cpu_a.json" "$work/cpu_b.json" --root $$ --server "$floor_done" >"$work/floor_cpu.json"
grep '^{' "$work/floor.out" | tail -1 >"$work/floor.json"
[[ -s $work/floor.json ]] || { cat "$work/floor.err" "$work/floor.out" >&2; die "floor.sh printed no JSON"; }

# ---------------------------------------------------------------- 7. the line
"$bin/python" "$here/report.py" "$work"
