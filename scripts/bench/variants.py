"""Measure an optimisation proposal without touching src/: copy src/ as committed (git HEAD)
to DEST/src, apply named patches to the copy, then bench the copy (it shadows the editable
install through PYTHONPATH):

    .venv/bin/python scripts/bench/variants.py /tmp/v-all pool,routecache,insertfirst,nolock,corelocal
    PYTHONPATH=/tmp/v-all/src bash scripts/bench.sh                     # with the floor
    PYTHONPATH=/tmp/v-all/src BENCH_SKIP_FLOOR=1 bash scripts/bench.sh  # quick A/B
    PYTHONPATH=/tmp/v-all/src .venv/bin/python scripts/bench/profile_stages.py  # (bench env)

The patches are prototypes for measuring, written against src/ at the commit named in
docs/benchmarks.md; each asserts the code it replaces, so a changed src/ fails loudly.
Patches: pool, routecache, insertfirst, nolock, onetxn, corelocal (see docs/benchmarks.md).
"""

import shutil
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[2]
dst = Path(sys.argv[1])
patches = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else []
shutil.rmtree(dst, ignore_errors=True)
dst.mkdir(parents=True)
archive = subprocess.run(
    ["git", "-C", str(root), "archive", "HEAD", "src"], check=True, capture_output=True
).stdout
subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
svc = dst / "src/paygate/payments/service.py"
db = dst / "src/paygate/kit/db.py"


def sub(path, old, new, count=1):
    s = path.read_text()
    assert s.count(old) >= 1, (path, old[:60])
    path.write_text(s.replace(old, new, count))


for p in patches:
    if p == "pool":  # pool_size 10 -> 32: no overflow connections opened and closed under load
        sub(db, "pool_size: int = 10", "pool_size: int = 32")
    elif p == "routecache":  # cache the routing rows (accounts + bindings) for 5 s per (app, channel)
        sub(
            svc,
            """        async with self.sessions() as session:
            accounts = ChannelAccountRepository(session)
            rows = await accounts.enabled_for(pay_type.channel)
            bound = dict(await AppRepository(session).bound_accounts(app.app_id))""",
            """        import time as _time
        key = (app.app_id, pay_type.channel)
        hit = self.__dict__.setdefault("_route_cache", {}).get(key)
        if hit and hit[0] > _time.monotonic():
            rows, bound = hit[1], hit[2]
        else:
            async with self.sessions() as session:
                accounts = ChannelAccountRepository(session)
                rows = await accounts.enabled_for(pay_type.channel)
                bound = dict(await AppRepository(session).bound_accounts(app.app_id))
            self._route_cache[key] = (_time.monotonic() + 5.0, rows, bound)""",
        )
    elif p == "insertfirst":  # no SELECT before the INSERT: the unique index answers repeats
        sub(
            svc,
            """            existing = await self._existing(app, cmd)
            if isinstance(existing, Trade):""",
            """            existing = await self._existing(app, cmd) if not held else None
            if isinstance(existing, Trade):""",
        )
        sub(
            svc,
            """                again = await self._existing(app, cmd)
                if again is None or isinstance(again, Trade):""",
            """                again = await self._existing(app, cmd)
                if isinstance(again, Trade):
                    return await self._redrive(again, app, pay_type, cmd)
                if again is None:""",
        )
    elif p == "nolock":  # no Redis lock: the unique (app_id, out_order_no) index is the guard
        sub(
            svc,
            """        async with self.locks.hold(f"pay:{app.app_id}:{cmd.out_order_no}") as held:""",
            """        held = True
        if True:""",
        )
    elif p == "onetxn":  # local pay forms (page/wap/app): sign first, then ONE transaction
        sub(
            svc,
            """            trade = await self._insert(app, cmd, pay_type, account, request)
            if trade is None:""",
            """            if pay_type.method in ("page", "wap", "app") and not request.extra.get("form"):
                local = await self._pay_local(app, cmd, pay_type, account, request, adapter)
                if local is not None:
                    return local
                again = await self._existing(app, cmd)
                if again is None:
                    raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
                return again
            trade = await self._insert(app, cmd, pay_type, account, request)
            if trade is None:""",
        )
        sub(
            svc,
            """    async def _existing(self, app: AppContext, cmd: PayCommand)""",
            '''    async def _pay_local(self, app, cmd, pay_type, account, request, adapter):
        """No network: build + sign the pay data first, then write the trade already
        PENDING, its accepted attempt and both log rows in one transaction."""
        result = await adapter.create_payment(account, request)
        action = result.action.to_dict()
        now = utcnow()
        trade = Trade(
            trade_no=request.trade_no, app_id=app.app_id, out_order_no=cmd.out_order_no,
            pay_type=cmd.pay_type, channel=pay_type.channel, channel_account_id=account.id,
            amount=cmd.amount, currency=cmd.currency, subject=cmd.subject, description=cmd.description,
            state=TradeState.PENDING.value, expire_at=request.expire_at, attempt_no=request.attempt_no,
            notify_url=cmd.notify_url or app.notify_url, return_url=cmd.return_url, client_ip=cmd.client_ip,
            extra=mask(cmd.extra), metadata_=cmd.metadata, fingerprint=cmd.fingerprint(), refunded_amount=0,
            created_at=now, updated_at=now,
        )
        try:
            async with self.sessions() as session, session.begin():
                session.add(trade)
                await session.flush()
                session.add_all([
                    ChannelAttempt(attempt_no=request.attempt_no, trade_id=trade.id, channel=pay_type.channel,
                                   channel_account_id=account.id, status="accepted", action=action,
                                   channel_trade_no=result.channel_trade_no),
                    TradeLog(trade_id=trade.id, event="created", from_state=None, to_state=TradeState.CREATED.value,
                             source="api", exchange={"request": mask({"pay_type": cmd.pay_type, "amount": cmd.amount,
                             "currency": cmd.currency, "extra": cmd.extra})}, created_at=now),
                    TradeLog(trade_id=trade.id, event=TradeEvent.ACCEPTED.value, from_state=TradeState.CREATED.value,
                             to_state=TradeState.PENDING.value, source="api", exchange=exchange_json(result.exchange),
                             created_at=now),
                ])
        except IntegrityError:
            return None
        view = trade_view(trade, action)
        self.cache.invalidate(trade)
        await self._run_hooks(view)
        return view

    async def _existing(self, app: AppContext, cmd: PayCommand)''',
        )
    elif p == "corelocal":  # like onetxn, but Core INSERTs (no ORM unit of work): 3 statements
        sub(
            svc,
            """            trade = await self._insert(app, cmd, pay_type, account, request)
            if trade is None:""",
            """            if pay_type.method in ("page", "wap", "app") and not request.extra.get("form"):
                local = await self._pay_local_core(app, cmd, pay_type, account, request, adapter)
                if local is not None:
                    return local
                again = await self._existing(app, cmd)
                if again is None:
                    raise ConflictError(code=ErrorCode.TRADE_IN_PROGRESS)
                return again
            trade = await self._insert(app, cmd, pay_type, account, request)
            if trade is None:""",
        )
        sub(
            svc,
            """    async def _existing(self, app: AppContext, cmd: PayCommand)""",
            """    async def _pay_local_core(self, app, cmd, pay_type, account, request, adapter):
        from sqlalchemy import insert
        result = await adapter.create_payment(account, request)
        action = result.action.to_dict()
        now = utcnow()
        row = dict(
            trade_no=request.trade_no, app_id=app.app_id, out_order_no=cmd.out_order_no,
            pay_type=cmd.pay_type, channel=pay_type.channel, channel_account_id=account.id,
            amount=cmd.amount, currency=cmd.currency, subject=cmd.subject, description=cmd.description,
            state=TradeState.PENDING.value, version=1, expire_at=request.expire_at, attempt_no=request.attempt_no,
            notify_url=cmd.notify_url or app.notify_url, return_url=cmd.return_url, client_ip=cmd.client_ip,
            extra=mask(cmd.extra), metadata=cmd.metadata, fingerprint=cmd.fingerprint(), refunded_amount=0,
            created_at=now, updated_at=now,
        )
        t = Trade.__table__
        try:
            async with self.sessions() as session, session.begin():
                conn = await session.connection()
                trade_id = (await conn.execute(insert(t).values(**row).returning(t.c.id))).scalar_one()
                await conn.execute(insert(ChannelAttempt.__table__).values(
                    attempt_no=request.attempt_no, trade_id=trade_id, channel=pay_type.channel,
                    channel_account_id=account.id, status="accepted", action=action,
                    channel_trade_no=result.channel_trade_no, created_at=now, updated_at=now))
                await conn.execute(insert(TradeLog.__table__), [
                    dict(trade_id=trade_id, event="created", from_state=None, to_state=TradeState.CREATED.value,
                         source="api", exchange={"request": mask({"pay_type": cmd.pay_type, "amount": cmd.amount,
                         "currency": cmd.currency, "extra": cmd.extra})}, created_at=now),
                    dict(trade_id=trade_id, event=TradeEvent.ACCEPTED.value, from_state=TradeState.CREATED.value,
                         to_state=TradeState.PENDING.value, source="api", exchange=exchange_json(result.exchange),
                         created_at=now),
                ])
        except IntegrityError:
            return None
        view = {
            "trade_no": row["trade_no"], "app_id": row["app_id"], "out_order_no": row["out_order_no"],
            "pay_type": row["pay_type"], "state": row["state"], "amount": row["amount"], "currency": row["currency"],
            "subject": row["subject"], "paid_amount": None, "refunded_amount": 0,
            "channel_trade_no": result.channel_trade_no,
            "expire_at": row["expire_at"].isoformat().replace("+00:00", "Z"), "paid_at": None, "closed_at": None,
            "created_at": now.isoformat().replace("+00:00", "Z"), "metadata": row["metadata"] or {},
            "action": action,
        }
        self.cache.invalidate(view)
        await self._run_hooks(view)
        return view

    async def _existing(self, app: AppContext, cmd: PayCommand)""",
        )
    else:
        raise SystemExit(f"unknown patch {p}")
print(dst)
