"""make bench, event-dispatch phase (R-NTF-5, R-OPS-3): how many events per second paygate's
workers deliver to a local app receiver, signed, verified and recorded.

  1. drops/creates the PostgreSQL database $BENCH_EVENTS_DB, migrates it, makes an app whose
     notify URL is the receiver (scripts/bench/events_receiver.py: uvicorn, verifies every
     notification with the standardwebhooks package);
  2. records $BENCH_EVENTS (20000) events through paygate.events.record, 1000 per transaction,
     each of its own trade (no per-trade ordering waits);
  3. starts $BENCH_EVENT_WORKERS (2) `paygate worker --jobs deliveries` processes and waits
     until every delivery is recorded as succeeded;
  4. checks: the receiver got every event, none with a bad signature, one acknowledged attempt
     recorded per event (a re-send after a lost lease would show as more);
  5. prints one JSON line: events_per_second = events / (last attempt's end − first attempt's
     start, from the attempts recorded in the database), with the CPU of each part.

Knobs: BENCH_EVENTS BENCH_EVENT_WORKERS BENCH_EVENT_BATCH (500) BENCH_EVENT_CONCURRENCY (128)
BENCH_EVENTS_DB (paygate_bench_events) BENCH_EVENTS_PORT (18079) BENCH_PROFILE=1 (py-spy on one
worker, the collapsed stacks' summary on stderr). Progress goes to stderr. Only 127.0.0.1.
"""

# A bench driver: it blocks on purpose (nothing else runs in its event loop).
# ruff: noqa: ASYNC110, ASYNC210, ASYNC220, ASYNC221, ASYNC251
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
DB = os.environ.get("BENCH_EVENTS_DB", "paygate_bench_events")
URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DB}"
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
WORKERS = int(os.environ.get("BENCH_EVENT_WORKERS", "2"))
BATCH = os.environ.get("BENCH_EVENT_BATCH", "500")
CONCURRENCY = os.environ.get("BENCH_EVENT_CONCURRENCY", "128")
PORT = int(os.environ.get("BENCH_EVENTS_PORT", "18079"))


def say(text: str) -> None:
    print(f"bench: events: {text}", file=sys.stderr, flush=True)


def ticks(pid: int) -> int:
    """CPU ticks of a process and its reaped children."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    f = raw[raw.rindex(")") + 2 :].split()
    return int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])


def pg_ticks() -> int:
    total = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                raw = Path(f"/proc/{name}/stat").read_text()
                if raw[raw.index("(") + 1 : raw.rindex(")")].startswith("postgres"):
                    total += ticks(int(name))
    return total


async def prepare(env: dict[str, str]) -> str:
    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {DB}")
    finally:
        await admin.close()
    subprocess.run([str(BIN / "paygate"), "migrate"], env=env, check=True, capture_output=True, timeout=120)
    from paygate.bootstrap import build_container
    from paygate.config import Settings
    from paygate.domain.events import EventType
    from paygate.events import record

    container = build_container(Settings())
    try:
        app = await container.apps.create("bench", "Bench", [], notify_url=f"http://127.0.0.1:{PORT}/hook")
        for start in range(0, EVENTS, 1000):

            async def unit(uow, start=start):  # type: ignore[no-untyped-def]
                for n in range(start, min(EVENTS, start + 1000)):
                    trade_no = f"T{n:026d}"
                    await record(
                        uow,
                        EventType.TRADE_SUCCEEDED,
                        aggregate=trade_no,
                        app_id="bench",
                        data={"trade_no": trade_no, "state": "succeeded", "amount": 1999, "currency": "CNY"},
                        notify_url=f"http://127.0.0.1:{PORT}/hook",
                    )

            await container.db.run(unit)
        return str(app["webhook_secret"])
    finally:
        await container.aclose()


async def pending_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM event_deliveries WHERE state <> 'succeeded'"))


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="paygate-bench-events."))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    env.update(
        PAYGATE_DATABASE_URL=URL,
        PAYGATE_DATA_DIR=str(work / "data"),
        PAYGATE_LOG_LEVEL="WARNING",
        PAYGATE_SANDBOX_ENABLED="false",
        PAYGATE_EVENT_BATCH_SIZE=BATCH,
        PAYGATE_EVENT_CONCURRENCY=CONCURRENCY,
        PAYGATE_EVENT_POLL_SECONDS="0.05",
    )
    os.environ.update({k: v for k, v in env.items() if k.startswith("PAYGATE_")})
    say(f"database {DB}: drop, create, migrate; {EVENTS} events recorded")
    secret = await prepare(env)
    receiver_env = {**env, "BENCH_WEBHOOK_SECRET": secret, "PYTHONPATH": str(HERE)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        receiver = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "--factory",
                "events_receiver:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(PORT),
                "--no-access-log",
                "--log-level",
                "warning",
                "--http",
                "httptools",
                "--loop",
                "uvloop",
            ],
            env=receiver_env,
            start_new_session=True,
        )
        procs.append(receiver)
        import httpx

        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{PORT}/stats", timeout=0.5)
                break
            time.sleep(0.1)
        if receiver.poll() is not None:
            say(f"FAILED: the receiver did not start (is port {PORT} in use? set BENCH_EVENTS_PORT)")
            sys.exit(1)
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB}")
        pg_before = pg_ticks()
        say(f"{WORKERS} workers (batch {BATCH}, concurrency {CONCURRENCY}) → receiver on :{PORT}")
        workers = [
            subprocess.Popen(
                [str(BIN / "paygate"), "worker", "--jobs", "deliveries"],
                env=env,
                start_new_session=True,
                stdout=(work / f"worker{i}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for i in range(WORKERS)
        ]
        procs += workers
        spy = None
        if os.environ.get("BENCH_PROFILE") == "1":
            if not (BIN / "py-spy").exists():
                subprocess.run([str(BIN / "pip"), "install", "-q", "py-spy"], check=True)
            time.sleep(2)
            spy = subprocess.Popen(
                [
                    str(BIN / "py-spy"),
                    "record",
                    "-p",
                    str(workers[0].pid),
                    "-d",
                    "30",
                    "-r",
                    "200",
                    "--nonblocking",
                    "-f",
                    "raw",
                    "-o",
                    str(work / "profile.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 600
        while await pending_count(conn) and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
        left = await pending_count(conn)
        worker_cpu = sum(ticks(w.pid) for w in workers) / os.sysconf("SC_CLK_TCK")
        receiver_cpu = ticks(receiver.pid) / os.sysconf("SC_CLK_TCK")
        pg_cpu = (pg_ticks() - pg_before) / os.sysconf("SC_CLK_TCK")
        window = await conn.fetchrow(
            "SELECT min(started_at) AS first, max(started_at + duration_ms * interval '1 millisecond') AS last,"
            " count(*) AS attempts, count(*) FILTER (WHERE outcome = 'acknowledged') AS acked,"
            " count(DISTINCT sent_by) AS senders FROM delivery_attempts"
        )
        await conn.close()
        stats = json.loads(httpx.get(f"http://127.0.0.1:{PORT}/stats", timeout=5).text)
        if spy is not None:
            spy.wait(timeout=60)
            subprocess.run(
                [sys.executable, str(HERE / "profile_summary.py"), str(work / "profile.txt"), "25"],
                check=False,
            )
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
    seconds = (window["last"] - window["first"]).total_seconds()
    checks = {
        "events": EVENTS,
        "undelivered": left,
        "received_unique": stats["unique"],
        "received_total": stats["received"],
        "bad_signature": stats["bad_signature"],
        "attempts_recorded": window["attempts"],
        "acknowledged_recorded": window["acked"],
        "workers_that_sent": window["senders"],
    }
    say(json.dumps(checks))
    ok = left == 0 and stats["unique"] == EVENTS and stats["bad_signature"] == 0 and window["acked"] == EVENTS
    if not ok:
        say(f"FAILED: checks do not hold; worker logs in {work}")
        sys.exit(1)
    print(
        json.dumps(
            {
                "events_per_second": round(EVENTS / seconds, 1),
                "events_dispatch_seconds": round(seconds, 2),
                "events_checks": checks,
                "events_cpu_s": {
                    "workers": round(worker_cpu, 2),
                    "receiver": round(receiver_cpu, 2),
                    "postgresql": round(pg_cpu, 2),
                },
                "events_params": {"workers": WORKERS, "batch": int(BATCH), "concurrency": int(CONCURRENCY)},
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
