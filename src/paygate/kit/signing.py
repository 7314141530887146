"""paygate's signing scheme for app ↔ paygate (docs/api.md has test vectors).

Request headers: ``X-Paygate-App-Id``, ``X-Paygate-Timestamp`` (unix seconds),
``X-Paygate-Nonce`` (8–64 of ``[A-Za-z0-9_-]``), ``X-Paygate-Signature``.
The signed message is::

    METHOD "\\n" PATH_WITH_QUERY "\\n" TIMESTAMP "\\n" NONCE "\\n" RAW_BODY "\\n"

- HMAC-SHA256 apps: the signature is the lowercase hex HMAC-SHA256 of the message, keyed
  with the app secret (UTF-8).
- RSA-SHA256 apps: base64 of RSA PKCS#1 v1.5 SHA-256 with the app's private key; paygate
  verifies with the registered public key.

Responses carry ``X-Paygate-Timestamp``, ``X-Paygate-Nonce``, ``X-Paygate-Signature`` over
``TIMESTAMP "\\n" NONCE "\\n" RAW_BODY "\\n"``: HMAC with the app secret for HMAC apps;
RSA-SHA256 with paygate's platform key (``GET /platform/public-key``) for RSA apps.
"""

from __future__ import annotations

import hmac
import re

from paygate.kit.crypto import hmac_sha256_hex, rsa_sign, rsa_verify

__all__ = [
    "HEADER_APP_ID",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "NONCE_PATTERN",
    "request_message",
    "response_message",
    "sign_hmac",
    "sign_rsa",
    "verify_hmac",
    "verify_rsa",
]

HEADER_APP_ID = "X-Paygate-App-Id"
HEADER_TIMESTAMP = "X-Paygate-Timestamp"
HEADER_NONCE = "X-Paygate-Nonce"
HEADER_SIGNATURE = "X-Paygate-Signature"
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{8,64}")
HMAC_SHA256 = "HMAC-SHA256"
RSA_SHA256 = "RSA-SHA256"


def request_message(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    head = f"{method.upper()}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def sign_hmac(secret: str, message: bytes) -> str:
    return hmac_sha256_hex(secret.encode(), message)


def verify_hmac(secret: str, message: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign_hmac(secret, message), signature.strip().lower())


def sign_rsa(private_key_pem: str, message: bytes) -> str:
    return rsa_sign(private_key_pem, message, "SHA256")


def verify_rsa(public_key_pem: str, message: bytes, signature: str) -> bool:
    return rsa_verify(public_key_pem, message, signature, "SHA256")
