"""``paygate run`` stops within a bound on SIGTERM, even with a request in flight that would
never end on its own and clients holding connections open (docs/operations.md)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx

from tests.e2e.test_cli_walkthrough import PAYGATE, run_json, start_paygate
from tests.e2e.test_cli_walkthrough import env as env

GRACE = 1  # PAYGATE_SHUTDOWN_TIMEOUT_SECONDS for this test


def hold_open(port: int, raw: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    return s


def test_sigterm_stops_paygate_run_in_bounded_time(env: dict[str, str]) -> None:
    env["PAYGATE_SHUTDOWN_TIMEOUT_SECONDS"] = str(GRACE)
    env["PAYGATE_CHANNEL_TIMEOUT_SECONDS"] = "120"  # the pay below waits on the channel, not on this
    proc = start_paygate(env)
    sandbox = f"http://127.0.0.1:{env['PAYGATE_SANDBOX_PORT']}"
    internal_port = int(env["PAYGATE_INTERNAL_PORT"])
    sockets: list[socket.socket] = []
    pay: subprocess.Popen[str] | None = None
    try:
        # the Stripe sandbox holds every API call until its faults are cleared: for ever here
        hold = {"timeouts": {"*": {"apply": False}}}
        assert httpx.post(f"{sandbox}/stripe/_sandbox/faults", json=hold, timeout=10).status_code == 200
        # a pay in flight through the internal API, waiting on the held channel call
        card = ["--pay-type=stripe.card", "--currency=USD", "--payment-method=pm_card_visa"]
        pay = subprocess.Popen(
            [PAYGATE, "demo", "pay", *card],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # a request in flight at the sandbox itself, and idle / half-sent connections
        secret = run_json(env, "sandbox", "credentials", "stripe")["secret_key"]
        sandbox_port = int(env["PAYGATE_SANDBOX_PORT"])
        body = b"amount=100&currency=usd"
        sockets.append(
            hold_open(
                sandbox_port,
                b"POST /stripe/v1/payment_intents HTTP/1.1\r\nHost: t\r\n"
                + f"Authorization: Bearer {secret}\r\n".encode()
                + b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body,
            )
        )
        sockets.append(hold_open(internal_port, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n"))
        half_sent = b"POST /gopay HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{"
        sockets.append(hold_open(internal_port, half_sent))
        time.sleep(1.5)  # let the pay reach the held channel call
        assert pay.poll() is None, pay.stdout.read() if pay.stdout else ""

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=GRACE + 25)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stdout.read() if proc.stdout else ""
        assert elapsed < GRACE + 10, f"paygate run took {elapsed:.1f} s to stop"
    finally:
        for s in sockets:
            s.close()
        if pay is not None:
            pay.kill()
            pay.wait()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
