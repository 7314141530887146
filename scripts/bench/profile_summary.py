"""Summarise a py-spy collapsed-stack profile (``py-spy record -f raw``) of a paygate worker.

Prints, as % of the sampled on-CPU time: the top self-time functions, the inclusive time
of the main cost buckets of a /gopay (by frames on the stack), and the top inclusive
paygate/library functions. Usage: profile_summary.py PROFILE.txt [TOP]
"""

from __future__ import annotations

import re
import sys
from collections import Counter

# bucket -> regex over one frame "func (file:line)"; the first bucket whose regex matches any
# frame of a stack gets that stack's samples (so order = priority, no double counting).
BUCKETS: list[tuple[str, str]] = [
    ("RSA private-key load (PEM parse + key check) per call", r"load_pem_private_key|_load_private|load_der_private_key"),
    ("RSA sign (Alipay page URL)", r"\bsign \(.*cryptography|rsa_sign|\bsign \(.*rsa"),
    ("SecretBox open (AES-GCM of the account secrets)", r"SecretBox|\bopen \(.*crypto\.py"),
    ("call log writer (batched INSERT off the request path)", r"call_log\.py"),
    ("request auth (HMAC verify, app cache, Redis nonce)", r"authenticate \(|guards\.py"),
    ("Redis lock (SET NX + EVAL release)", r"locks\.py"),
    ("response signing + JSON + call-log row (responses.py)", r"responses\.py"),
    ("pay: _existing (SELECT by out_order_no)", r"_existing \("),
    ("pay: _route (channel accounts + bindings)", r"_route \("),
    ("pay: _insert (txn 1: trade, attempt, log)", r"_insert \("),
    ("pay: _call_create -> adapter (build+sign URL)", r"create_payment \("),
    ("pay: _call_create -> record (txn 2: re-read, update, log)", r"record \(|retry_stale|apply_event"),
    ("FastAPI/pydantic request handling", r"fastapi|pydantic|starlette"),
    ("uvicorn / HTTP protocol", r"uvicorn|httptools"),
    ("asyncio event loop", r"asyncio|uvloop"),
]


def parse(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    m = re.match(r"(.*) \((.*?):(\d+)\)$", frame)
    if not m:
        return frame
    func, path, _ = m.groups()
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{func} ({path})"


def main() -> None:
    stacks = parse(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    total = sum(c for _, c in stacks)
    print(f"samples: {total}")
    selfc: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for frames, c in stacks:
        selfc[short(frames[-1])] += c
        for fr in {short(f) for f in frames}:
            incl[fr] += c
    buckets: Counter[str] = Counter()
    for frames, c in stacks:
        for name, rx in BUCKETS:
            if any(re.search(rx, f) for f in frames):
                buckets[name] += c
                break
        else:
            buckets["other"] += c
    print("\n== buckets (exclusive, first match wins) ==")
    for name, c in buckets.most_common():
        print(f"{100 * c / total:5.1f}%  {name}")
    print(f"\n== top {top} self ==")
    for name, c in selfc.most_common(top):
        print(f"{100 * c / total:5.1f}%  {name}")
    print(f"\n== top {top * 2} inclusive ==")
    for name, c in incl.most_common(top * 2):
        print(f"{100 * c / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
