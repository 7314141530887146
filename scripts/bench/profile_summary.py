"""Summarise a py-spy collapsed-stack profile (``py-spy record -f raw``) of a paygate worker.

Prints, as % of the samples (on-CPU time of the sampled worker): the self time grouped by
library (the innermost Python frame's package: C code such as asyncpg's protocol, uvloop or
OpenSSL counts for the Python frame that called it), then the top self-time functions.
SQLAlchemy's asyncio layer runs the ORM in greenlets, and py-spy's stacks of a greenlet stop
at the greenlet's first frame: inclusive times of paygate's functions would be undercounted,
so they are not shown (scripts/bench/profile_stages.py gives the per-stage split).
Usage: profile_summary.py PROFILE.txt [TOP]
"""

from __future__ import annotations

import re
import sys
from collections import Counter

LIBS = [
    ("sqlalchemy/", "SQLAlchemy (ORM unit of work, Core compile/cache, result rows, pool)"),
    ("asyncpg/", "asyncpg (driver + its C protocol: encode/decode, socket writes)"),
    ("greenlet", "greenlet switches (SQLAlchemy asyncio bridge)"),
    ("uvicorn/", "uvicorn (HTTP protocol, httptools)"),
    ("starlette/", "Starlette/FastAPI/pydantic (routing, validation, responses)"),
    ("fastapi/", "Starlette/FastAPI/pydantic (routing, validation, responses)"),
    ("pydantic", "Starlette/FastAPI/pydantic (routing, validation, responses)"),
    ("redis/", "redis-py (nonce + lock round trips)"),
    ("cryptography/", "cryptography (RSA sign, AES-GCM)"),
    ("paygate/kit/crypto", "cryptography (RSA sign, AES-GCM)"),
    ("paygate/", "paygate's own code"),
    ("prometheus_client/", "prometheus_client (metrics)"),
    ("structlog/", "structlog"),
    ("json/", "json (stdlib)"),
    ("asyncio/", "asyncio (event loop, tasks, streams)"),
    ("uvloop", "asyncio (event loop, tasks, streams)"),
]


def parse(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                stack, _, count = line.rpartition(" ")
                stacks.append((stack.split(";"), int(count)))
    return stacks


def short(frame: str) -> str:
    m = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not m:
        return frame or "?"
    func, path = m.groups()
    for marker in ("site-packages/", "src/", "lib/python3.11/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{func} ({path})"


def lib_of(frame: str) -> str:
    for key, name in LIBS:
        if key in frame:
            return name
    return "other (stdlib, threads, unknown)"


def main() -> None:
    stacks = parse(sys.argv[1])
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    # the supervisor's ping thread blocks in read(): not work
    stacks = [(f, c) for f, c in stacks if not any("always_pong" in x for x in f)]
    total = sum(c for _, c in stacks) or 1
    libs: Counter[str] = Counter()
    selfc: Counter[str] = Counter()
    for frames, c in stacks:
        leaf = next((x for x in reversed(frames) if x.strip()), "")
        libs[lib_of(leaf)] += c
        selfc[short(leaf)] += c
    print(f"py-spy samples: {total}")
    print("\n== self time by library ==")
    for name, c in libs.most_common():
        print(f"{100 * c / total:5.1f}%  {name}")
    print(f"\n== top {top} functions (self) ==")
    for name, c in selfc.most_common(top):
        print(f"{100 * c / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
