"""Apps: registering a business system, its credential (HMAC secret sealed at rest, or a
registered RSA public key, R-SEC-1), the pay types it may use, and which channel accounts
serve it (R-CH-3)."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Callable, Iterable
from typing import Any

from paygate.channels.registry import ChannelRegistry
from paygate.kit.crypto import CryptoError, SecretBox, load_public_key
from paygate.kit.errors import ConflictError, ErrorCode, NotFoundError, RequestError
from paygate.kit.signing import HMAC_SHA256, RSA_SHA256
from paygate.models import App
from paygate.repositories import Database

__all__ = ["AppDirectory", "app_secret_aad"]


def app_secret_aad(app_id: str) -> str:
    return f"app_secret:{app_id}"


class AppDirectory:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        registry: ChannelRegistry,
        *,
        on_change: Callable[[str], None] = lambda app_id: None,
    ) -> None:
        self._db = db
        self._box = box
        self._registry = registry
        self._on_change = on_change  # e.g. the authenticator forgets its cached copy

    async def create(
        self,
        app_id: str,
        name: str,
        pay_types: Iterable[str],
        *,
        public_key: str | None = None,
        secret: str | None = None,
        notify_url: str | None = None,
    ) -> dict[str, Any]:
        """Register an app. Without ``public_key`` it signs with HMAC-SHA256 and a fresh
        secret (returned here, once); with one it signs with RSA-SHA256."""
        types = sorted(set(pay_types))
        for pay_type in types:
            self._registry.pay_type(pay_type)  # refuses unknown pay types
        if public_key:
            try:
                load_public_key(public_key)
            except (CryptoError, ValueError) as exc:
                raise RequestError(f"the public key is not a usable RSA key: {exc}") from None
            sign_type, sealed, secret = RSA_SHA256, None, None
        else:
            secret = secret or _secrets.token_urlsafe(32)
            sign_type, sealed = HMAC_SHA256, self._box.seal(secret, app_secret_aad(app_id))
        async with self._db.transaction() as uow:
            added = await uow.apps.add(
                App(
                    app_id=app_id,
                    name=name,
                    sign_type=sign_type,
                    secret_sealed=sealed,
                    public_key=public_key,
                    allowed_pay_types=types,
                    notify_url=notify_url,
                    enabled=True,
                    settings={},
                )
            )
            if not added:
                uow.mark_rollback_only()
        if not added:
            raise ConflictError(f"app {app_id!r} exists", code=ErrorCode.ILLEGAL_STATE)
        self._on_change(app_id)
        out: dict[str, Any] = {"app_id": app_id, "sign_type": sign_type, "pay_types": types}
        if secret:
            out["secret"] = secret
        return out

    async def exists(self, app_id: str) -> bool:
        async with self._db.reading() as uow:
            return await uow.apps.get(app_id) is not None

    async def reveal_secret(self, app_id: str) -> str | None:
        """The HMAC secret of an app (the demo's credentials command; never an API)."""
        async with self._db.reading() as uow:
            app = await uow.apps.get(app_id)
        if app is None or not app.secret_sealed:
            return None
        return self._box.open(app.secret_sealed, app_secret_aad(app_id)).reveal()

    async def allow_pay_types(self, app_id: str, pay_types: Iterable[str]) -> None:
        """Let the app use these pay types too."""
        async with self._db.transaction() as uow:
            app = await uow.apps.get(app_id)
            if app is None:
                raise NotFoundError(f"no app {app_id!r}", code=ErrorCode.UNKNOWN_APP)
            wanted = sorted(set(app.allowed_pay_types or []) | set(pay_types))
            if wanted != sorted(app.allowed_pay_types or []):
                app.allowed_pay_types = wanted
        self._on_change(app_id)

    async def bind(self, app_id: str, channel_account_id: int, priority: int = 0) -> None:
        """Serve the app's payments of the account's channel from this account, preferred by
        ``priority`` among the app's bindings (R-CH-3, R-CH-5)."""
        async with self._db.transaction() as uow:
            if await uow.apps.get(app_id) is None:
                raise NotFoundError(f"no app {app_id!r}", code=ErrorCode.UNKNOWN_APP)
            if await uow.accounts.get(channel_account_id) is None:
                raise NotFoundError(
                    f"no channel account {channel_account_id}", code=ErrorCode.UNKNOWN_CHANNEL
                )
            await uow.apps.bind(app_id, channel_account_id, priority)
