"""Signing outgoing webhooks the Standard Webhooks way (https://www.standardwebhooks.com/),
so that an app verifies paygate's notifications with any Standard Webhooks library.

Headers of every notification::

    webhook-id:         evt_20261201112233123456789012      (the event id: de-duplicate on it)
    webhook-timestamp:  1767225600                          (Unix seconds of this attempt)
    webhook-signature:  v1,<base64 HMAC-SHA256> [v1,<…> …] [v1rsa,<base64 RSA-SHA256>]

The signed content is ``id "." timestamp "." body`` (UTF-8; the body as sent). ``v1``
signatures are HMAC-SHA256 keyed with the base64-decoded part of the app's ``whsec_…``
secret; during a secret rotation there is one per valid secret, space-separated. Apps that
registered an RSA public key also get ``v1rsa``: RSA PKCS#1 v1.5 / SHA-256 with paygate's
platform key, verified with ``GET /platform/public-key``. It is not called ``v1a``: the
specification reserves that for ed25519, and a library reading it as such would fail.
Verifiers ignore versions they do not know.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

from paygate.kit.crypto import CryptoError, rsa_sign, rsa_verify

__all__ = [
    "HEADER_ID",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "SECRET_PREFIX",
    "new_secret",
    "rsa_signature",
    "sign",
    "signature_header",
    "signed_content",
    "verify",
]

HEADER_ID = "webhook-id"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
SECRET_PREFIX = "whsec_"
#: The specification's recommended secret size: 24 to 64 random bytes.
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh ``whsec_<base64 of 32 random bytes>``."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise CryptoError("a webhook secret is whsec_ followed by base64") from exc


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{msg_id}.{timestamp}.".encode() + body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` of one secret."""
    digest = hmac.new(_key(secret), signed_content(msg_id, timestamp, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def rsa_signature(private_key_pem: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1rsa,<base64 RSA PKCS#1 v1.5 SHA-256>`` with paygate's platform key."""
    return "v1rsa," + rsa_sign(private_key_pem, signed_content(msg_id, timestamp, body), "SHA256")


def signature_header(
    secrets: Iterable[str],
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    rsa_private_key: str | None = None,
) -> str:
    """The ``webhook-signature`` value: one ``v1`` per secret, then ``v1rsa`` if asked."""
    parts = [sign(s, msg_id, timestamp, body) for s in secrets]
    if rsa_private_key is not None:
        parts.append(rsa_signature(rsa_private_key, msg_id, timestamp, body))
    return " ".join(parts)


def verify(
    header: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    *,
    secret: str | None = None,
    public_key_pem: str | None = None,
) -> bool:
    """True when one signature in ``header`` verifies with ``secret`` (``v1``) or
    ``public_key_pem`` (``v1rsa``). For tests and the docs; apps use their own library."""
    for part in header.split():
        version, _, value = part.partition(",")
        if version == "v1" and secret is not None:
            if hmac.compare_digest(sign(secret, msg_id, timestamp, body), part):
                return True
        elif version == "v1rsa" and public_key_pem is not None:
            if rsa_verify(public_key_pem, signed_content(msg_id, timestamp, body), value, "SHA256"):
                return True
    return False
