"""Authenticating an app's request, and signing paygate's answer to it."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from paygate.auth import signing
from paygate.auth.nonces import NonceStore
from paygate.kit.crypto import CryptoError, Secret, SecretBox
from paygate.kit.errors import AuthError, ErrorCode
from paygate.payments.commands import AppContext
from paygate.repositories import AppRepository

__all__ = ["AppAuthenticator", "AuthenticatedApp", "app_secret_aad"]


def app_secret_aad(app_id: str) -> str:
    return f"app_secret:{app_id}"


@dataclass(frozen=True)
class AuthenticatedApp:
    context: AppContext
    sign_type: str
    secret: Secret | None
    public_key: str | None


class AppAuthenticator:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        box: SecretBox,
        nonces: NonceStore,
        platform_private_key: str,
        window_seconds: int = 300,
        cache_seconds: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._nonces = nonces
        self._platform_key = platform_private_key
        self._window = window_seconds
        self._cache_ttl = cache_seconds
        self._cache: dict[str, tuple[float, AuthenticatedApp | None]] = {}

    async def load(self, app_id: str) -> AuthenticatedApp | None:
        hit = self._cache.get(app_id)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        async with self._sessions() as session:
            row = await AppRepository(session).get(app_id)
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
        self._cache[app_id] = (now + self._cache_ttl, app)
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
