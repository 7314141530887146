"""Apps: registering a business system, its credential (HMAC secret sealed at rest, or a
registered RSA public key, R-SEC-1), the pay types it may use, and which channel accounts
serve it (R-CH-3)."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from paygate.channels.registry import ChannelRegistry
from paygate.kit import webhooks
from paygate.kit.clock import utc_now
from paygate.kit.crypto import CryptoError, Secret, SecretBox, load_public_key
from paygate.kit.errors import ConflictError, ErrorCode, NotFoundError, RequestError
from paygate.kit.signing import HMAC_SHA256, RSA_SHA256
from paygate.models import App
from paygate.repositories import Database

__all__ = ["DEFAULT_ROTATION_GRACE", "AppDirectory", "WebhookKeys", "app_secret_aad", "webhook_secret_aad"]

#: How long the previous webhook secret still signs after a rotation (apps deploy the new one).
DEFAULT_ROTATION_GRACE = timedelta(hours=24)


def app_secret_aad(app_id: str) -> str:
    return f"app_secret:{app_id}"


def webhook_secret_aad(app_id: str, which: str = "current") -> str:
    return f"webhook_secret:{which}:{app_id}"


@dataclass(frozen=True)
class WebhookKeys:
    """What signs an app's notifications: its valid ``whsec_`` secrets (newest first; two
    during a rotation's grace period) and whether it registered an RSA key (then paygate's
    platform key signs too)."""

    secrets: tuple[Secret, ...]
    rsa: bool


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
        webhook_secret = webhooks.new_secret()
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
                    webhook_secret_sealed=self._box.seal(webhook_secret, webhook_secret_aad(app_id)),
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
        out["webhook_secret"] = webhook_secret
        return out

    async def rotate_webhook_secret(
        self, app_id: str, grace: timedelta = DEFAULT_ROTATION_GRACE
    ) -> dict[str, Any]:
        """A new webhook secret (returned here, once). The current one keeps signing, beside
        the new one, for ``grace`` — notifications carry both signatures meanwhile — so the
        app can switch without losing one (R-SEC-1)."""
        if grace < timedelta(0) or grace > timedelta(days=30):
            raise RequestError("the grace period is 0 to 30 days")
        secret = webhooks.new_secret()
        now = utc_now()
        async with self._db.transaction() as uow:
            app = await uow.apps.get(app_id)
            if app is None:
                raise NotFoundError(f"no app {app_id!r}", code=ErrorCode.UNKNOWN_APP)
            previous = self._open_webhook(app.webhook_secret_sealed, app_id, "current")
            if previous is not None and grace > timedelta(0):
                app.webhook_previous_sealed = self._box.seal(
                    previous.reveal(), webhook_secret_aad(app_id, "previous")
                )
                app.webhook_previous_until = now + grace
            else:
                app.webhook_previous_sealed = None
                app.webhook_previous_until = None
            app.webhook_secret_sealed = self._box.seal(secret, webhook_secret_aad(app_id))
        self._on_change(app_id)
        until = now + grace if previous is not None and grace > timedelta(0) else None
        return {
            "app_id": app_id,
            "webhook_secret": secret,
            "previous_valid_until": until.isoformat() if until else None,
        }

    async def webhook_keys(self, app_id: str) -> WebhookKeys | None:
        """What signs the app's notifications now (``None``: no such app)."""
        async with self._db.reading() as uow:
            app = await uow.apps.get(app_id)
        if app is None:
            return None
        found = [self._open_webhook(app.webhook_secret_sealed, app_id, "current")]
        if app.webhook_previous_until is not None and app.webhook_previous_until > utc_now():
            found.append(self._open_webhook(app.webhook_previous_sealed, app_id, "previous"))
        return WebhookKeys(tuple(s for s in found if s is not None), rsa=bool(app.public_key))

    async def reveal_webhook_secret(self, app_id: str) -> str | None:
        """The app's current webhook secret (the demo's credentials and receiver; never an API)."""
        keys = await self.webhook_keys(app_id)
        return keys.secrets[0].reveal() if keys and keys.secrets else None

    async def ensure_webhook_secret(self, app_id: str) -> None:
        """Give an app made before webhook secrets existed one (demo seed, migrations)."""
        async with self._db.transaction() as uow:
            app = await uow.apps.get(app_id)
            if app is not None and not app.webhook_secret_sealed:
                app.webhook_secret_sealed = self._box.seal(webhooks.new_secret(), webhook_secret_aad(app_id))

    async def notify_url(self, app_id: str) -> str | None:
        async with self._db.reading() as uow:
            app = await uow.apps.get(app_id)
        return app.notify_url if app is not None else None

    async def set_notify_url(self, app_id: str, notify_url: str | None) -> None:
        """The app's default notify URL (a trade's own ``notify_url`` wins)."""
        if notify_url is not None and not notify_url.startswith(("http://", "https://")):
            raise RequestError("a notify URL starts with http:// or https://")
        async with self._db.transaction() as uow:
            app = await uow.apps.get(app_id)
            if app is None:
                raise NotFoundError(f"no app {app_id!r}", code=ErrorCode.UNKNOWN_APP)
            app.notify_url = notify_url
        self._on_change(app_id)

    def _open_webhook(self, sealed: str | None, app_id: str, which: str) -> Secret | None:
        if not sealed:
            return None
        try:
            return self._box.open(sealed, webhook_secret_aad(app_id, which))
        except CryptoError:
            return None

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
