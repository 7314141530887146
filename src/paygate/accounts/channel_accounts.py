"""Channel accounts as data (R-CH-3): a row's sealed secrets become a
:class:`~paygate.channels.contract.ChannelAccount` of :class:`~paygate.kit.crypto.Secret`
values that never print (R-SEC-4). Decrypted accounts are cached briefly; a change made
through this service is seen at once, one made elsewhere within ``ttl_seconds``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache

from paygate.channels.contract import AccountSpecError, ChannelAccount
from paygate.channels.registry import ChannelRegistry
from paygate.kit.crypto import Secret, SecretBox
from paygate.kit.errors import ErrorCode, RequestError
from paygate.kit.money import MoneyError, exponent_of
from paygate.models import ChannelAccountRow
from paygate.repositories import Database

__all__ = ["AccountSettings", "ChannelAccounts"]


@dataclass(frozen=True)
class AccountSettings:
    """A new channel account's non-secret settings. The fee terms — ``fee_rate_bp`` of the
    amount, rounded half up, plus ``fee_fixed`` minor units of ``fee_currency`` per payment —
    are what reconciliation checks each payment's fee against (R-REC-2)."""

    fee_rate_bp: int = 0
    fee_fixed: int = 0
    fee_currency: str | None = None
    timeout_seconds: float = 10.0
    priority: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)


class ChannelAccounts:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        registry: ChannelRegistry,
        public_base_url: str,
        *,
        ttl_seconds: float = 30.0,
    ) -> None:
        self._db = db
        self._box = box
        self._registry = registry
        self._public_base_url = public_base_url.rstrip("/")
        self._cache: TTLCache[int, ChannelAccount] = TTLCache(maxsize=1024, ttl=ttl_seconds)

    # ------------------------------------------------------------------ URLs

    def notify_url(self, channel: str, account_id: int) -> str:
        return f"{self._public_base_url}/notify/{channel}/{account_id}"

    def return_url(self, channel: str, account_id: int) -> str:
        return f"{self._public_base_url}/return/{channel}/{account_id}"

    # ------------------------------------------------------------------ reads

    async def get(self, account_id: int) -> ChannelAccount | None:
        hit = self._cache.get(account_id)
        if hit is not None:
            return hit
        async with self._db.reading() as uow:
            row = await uow.accounts.get(account_id)
        return None if row is None else self._decode(row)

    async def enabled_for(self, channel: str) -> list[ChannelAccount]:
        """Enabled accounts of the channel, preferred first."""
        async with self._db.reading() as uow:
            rows = await uow.accounts.enabled_for(channel)
        return [self._decode(r) for r in rows]

    async def all_enabled(self) -> list[ChannelAccount]:
        """Every enabled account of every channel (the daily reconciliation's list)."""
        async with self._db.reading() as uow:
            rows = await uow.accounts.all()
        return [self._decode(r) for r in rows if r.enabled]

    async def find(self, channel: str, merchant_id: str) -> int | None:
        async with self._db.reading() as uow:
            row = await uow.accounts.by_merchant(channel, merchant_id)
        return None if row is None else row.id

    async def describe_all(self) -> list[dict[str, Any]]:
        """Every account as an operator may see it: secret names, never their values."""
        async with self._db.reading() as uow:
            rows = await uow.accounts.all()
        out = []
        for row in rows:
            account = self._decode(row)
            out.append(
                {
                    "id": row.id,
                    "channel": row.channel,
                    "name": row.name,
                    "merchant_id": row.merchant_id,
                    "gateway_url": row.gateway_url,
                    "enabled": row.enabled,
                    "priority": row.priority,
                    "fee_rate_bp": row.fee_rate_bp,
                    "fee_fixed": row.fee_fixed,
                    "fee_currency": row.fee_currency,
                    "params": dict(row.params or {}),
                    "secrets": sorted(account.secrets),
                    "notify_url": account.notify_url,
                }
            )
        return out

    # ------------------------------------------------------------------ writes

    async def add(
        self,
        channel: str,
        name: str,
        merchant_id: str,
        gateway_url: str,
        secrets: Mapping[str, str],
        settings: AccountSettings | None = None,
    ) -> int:
        """Add an account; refused at once (INVALID_REQUEST, naming what is wrong) when its
        secrets or params do not fit the channel adapter's account spec."""
        settings = settings or AccountSettings()
        spec = self._registry.adapter(channel).account_spec
        try:
            spec.check(channel, secrets, settings.params)
        except AccountSpecError as exc:
            raise RequestError(str(exc), code=ErrorCode.INVALID_REQUEST) from None
        empty = sorted(k for k, v in secrets.items() if not v.strip())
        if empty:
            raise RequestError(f"{channel} account: empty secret {', '.join(map(repr, empty))}")
        _check_fees(channel, settings)
        sealed = self._box.seal(json.dumps(dict(secrets)), _aad(channel, merchant_id))
        async with self._db.transaction() as uow:
            return await uow.accounts.add(
                ChannelAccountRow(
                    channel=channel,
                    name=name,
                    merchant_id=merchant_id,
                    gateway_url=gateway_url,
                    secrets_sealed=sealed,
                    params=dict(settings.params),
                    fee_rate_bp=settings.fee_rate_bp,
                    fee_fixed=settings.fee_fixed,
                    fee_currency=settings.fee_currency,
                    timeout_seconds=settings.timeout_seconds,
                    priority=settings.priority,
                    enabled=True,
                )
            )

    def forget(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ decoding

    def _decode(self, row: ChannelAccountRow) -> ChannelAccount:
        secrets_json = self._box.open(row.secrets_sealed, _aad(row.channel, row.merchant_id))
        secrets = {k: Secret(str(v)) for k, v in json.loads(secrets_json.reveal()).items()}
        account = ChannelAccount(
            id=row.id,
            channel=row.channel,
            name=row.name,
            merchant_id=row.merchant_id,
            gateway_url=row.gateway_url,
            secrets=secrets,
            params={k: str(v) for k, v in (row.params or {}).items()},
            notify_url=self.notify_url(row.channel, row.id),
            return_url=row.return_url or self.return_url(row.channel, row.id),
            fee_rate_bp=row.fee_rate_bp,
            fee_fixed=row.fee_fixed,
            fee_currency=row.fee_currency,
            timeout_seconds=row.timeout_seconds,
        )
        self._cache[row.id] = account
        return account


def _check_fees(channel: str, settings: AccountSettings) -> None:
    """Fee terms reconciliation can use: no negative part, and a fixed part only with the
    currency it is counted in (a fixed number of minor units means nothing without one)."""
    problems = []
    if settings.fee_rate_bp < 0 or settings.fee_fixed < 0:
        problems.append("a fee rate or fixed fee below zero")
    if settings.fee_currency is not None:
        try:
            exponent_of(settings.fee_currency)
        except MoneyError:
            problems.append(f"unknown fee currency {settings.fee_currency!r}")
    elif settings.fee_fixed:
        problems.append("a fixed fee needs its currency (fee_currency)")
    if problems:
        raise RequestError(f"{channel} account: " + "; ".join(problems), code=ErrorCode.INVALID_REQUEST)


def _aad(channel: str, merchant_id: str) -> str:
    return f"channel_account:{channel}:{merchant_id}"
