"""Authenticating an app's request, and signing paygate's answer to it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from cachetools import TTLCache

from paygate.accounts.apps import app_secret_aad
from paygate.auth.nonces import NonceStore
from paygate.domain.apps import AppContext
from paygate.kit import signing
from paygate.kit.crypto import CryptoError, Secret, SecretBox
from paygate.kit.errors import AuthError, ErrorCode
from paygate.repositories import Database

__all__ = ["AppAuthenticator", "AuthenticatedApp"]


@dataclass(frozen=True)
class AuthenticatedApp:
    context: AppContext
    sign_type: str
    secret: Secret | None
    public_key: str | None


class AppAuthenticator:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        nonces: NonceStore,
        platform_private_key: str,
        window_seconds: int = 300,
        cache_seconds: float = 10.0,
    ) -> None:
        self._db = db
        self._box = box
        self._nonces = nonces
        self._platform_key = platform_private_key
        self._window = window_seconds
        #: app id → the app (None: unknown or disabled), for ``cache_seconds``
        self._cache: TTLCache[str, AuthenticatedApp | None] = TTLCache(maxsize=10_000, ttl=cache_seconds)

    async def load(self, app_id: str) -> AuthenticatedApp | None:
        if app_id in self._cache:
            return self._cache[app_id]
        async with self._db.reading() as uow:
            row = await uow.apps.get(app_id)
        app: AuthenticatedApp | None = None
        if row is not None and row.enabled:
            secret = None
            if row.secret_sealed:
                try:
                    secret = self._box.open(row.secret_sealed, app_secret_aad(row.app_id))
                except CryptoError:
                    secret = None
            app = AuthenticatedApp(
                context=AppContext(
                    app_id=row.app_id,
                    allowed_pay_types=frozenset(row.allowed_pay_types or []),
                    notify_url=row.notify_url,
                ),
                sign_type=row.sign_type,
                secret=secret,
                public_key=row.public_key,
            )
        self._cache[app_id] = app
        return app

    def forget(self, app_id: str) -> None:
        self._cache.pop(app_id, None)

    async def authenticate(
        self, method: str, path_with_query: str, headers: dict[str, str], body: bytes
    ) -> AuthenticatedApp:
        app_id = headers.get(signing.HEADER_APP_ID.lower())
        timestamp = headers.get(signing.HEADER_TIMESTAMP.lower())
        nonce = headers.get(signing.HEADER_NONCE.lower())
        signature = headers.get(signing.HEADER_SIGNATURE.lower())
        if not (app_id and timestamp and nonce and signature):
            raise AuthError(code=ErrorCode.MISSING_CREDENTIALS)
        app = await self.load(app_id)
        if app is None:
            raise AuthError(code=ErrorCode.UNKNOWN_APP)
        if (
            not (timestamp.isascii() and timestamp.isdigit())
            or abs(int(timestamp) - time.time()) > self._window
        ):
            raise AuthError(code=ErrorCode.TIMESTAMP_OUT_OF_WINDOW)
        if not signing.NONCE_PATTERN.fullmatch(nonce):
            raise AuthError(
                "the nonce must be 8-64 characters of [A-Za-z0-9_-]", code=ErrorCode.MISSING_CREDENTIALS
            )
        message = signing.request_message(method, path_with_query, timestamp, nonce, body)
        if app.sign_type == signing.HMAC_SHA256 and app.secret is not None:
            ok = signing.verify_hmac(app.secret.reveal(), message, signature)
        elif app.sign_type == signing.RSA_SHA256 and app.public_key:
            ok = signing.verify_rsa(app.public_key, message, signature)
        else:
            ok = False
        if not ok:
            raise AuthError(code=ErrorCode.BAD_SIGNATURE)
        # the nonce is spent only by a request that proved who it is
        if not await self._nonces.remember(app_id, nonce):
            raise AuthError(code=ErrorCode.NONCE_REUSED)
        return app

    def sign_response(self, app: AuthenticatedApp, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = signing.response_message(timestamp, nonce, body)
        if app.sign_type == signing.HMAC_SHA256 and app.secret is not None:
            signature = signing.sign_hmac(app.secret.reveal(), message)
        else:
            signature = signing.sign_rsa(self._platform_key, message)
        return {
            signing.HEADER_TIMESTAMP: timestamp,
            signing.HEADER_NONCE: nonce,
            signing.HEADER_SIGNATURE: signature,
        }
