"""Standard Webhooks signatures (R-NTF-5, R-SEC-1): the test vectors of docs/api.md, checked
against paygate's signer, the ``standardwebhooks`` package and the standard library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from paygate.kit import webhooks
from paygate.kit.crypto import generate_rsa_key, private_key_pem, public_key_pem

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECOND = "whsec_cGF5Z2F0ZS1zZWNvbmQtc2VjcmV0LWZvci10ZXN0cw=="
MSG_ID = "evt_20260101000000123456789012"
TIMESTAMP = 1767225600
BODY = (
    b'{"id":"evt_20260101000000123456789012","type":"trade.succeeded","timestamp":"2026-01-01T00:00:00Z",'
    b'"data":{"trade_no":"T20260101000000123456789012","state":"succeeded","amount":1999,"currency":"CNY"}}'
)
EXPECTED = "v1,LOoYW4Fg6gqjwiH56molnEofHJrKc7tuacl36k8t27o="
EXPECTED_SECOND = "v1,rfmAa6R6HL0FakLdv94iBeAyJBJI7O7IQpFlNc2iv/c="


def test_the_documented_vector() -> None:
    assert len(BODY) == 200
    assert webhooks.sign(SECRET, MSG_ID, TIMESTAMP, BODY) == EXPECTED
    assert webhooks.sign(SECOND, MSG_ID, TIMESTAMP, BODY) == EXPECTED_SECOND
    # the standard library alone
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{MSG_ID}.{TIMESTAMP}.".encode() + BODY, hashlib.sha256).digest()
    assert "v1," + base64.b64encode(digest).decode() == EXPECTED
    # the Standard Webhooks reference library
    assert Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(TIMESTAMP, UTC), BODY.decode()) == EXPECTED


def test_a_rotation_header_verifies_with_either_secret_and_the_library_ignores_v1rsa() -> None:
    now = int(time.time())
    key = private_key_pem(generate_rsa_key())
    header = webhooks.signature_header([SECOND, SECRET], MSG_ID, now, BODY, rsa_private_key=key)
    assert header.split(" ")[0].startswith("v1,") and header.split(" ")[2].startswith("v1rsa,")
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(now), "webhook-signature": header}
    for secret in (SECRET, SECOND):
        assert Webhook(secret).verify(BODY, headers)["type"] == "trade.succeeded"
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(BODY, headers)
    # RSA apps: the platform's public key verifies v1rsa
    assert (
        webhooks.verify(header, MSG_ID, now, BODY, public_key_pem=public_key_pem(generate_rsa_key())) is False
    )
    from paygate.kit.crypto import load_private_key

    assert webhooks.verify(header, MSG_ID, now, BODY, public_key_pem=public_key_pem(load_private_key(key)))


def test_a_tampered_body_or_an_old_timestamp_fails() -> None:
    now = int(time.time())
    header = webhooks.signature_header([SECRET], MSG_ID, now, BODY)
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(now), "webhook-signature": header}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY.replace(b"1999", b"1"), headers)
    old = webhooks.signature_header([SECRET], MSG_ID, now - 3600, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(
            BODY, {"webhook-id": MSG_ID, "webhook-timestamp": str(now - 3600), "webhook-signature": old}
        )


def test_new_secrets_are_whsec_and_32_random_bytes() -> None:
    a, b = webhooks.new_secret(), webhooks.new_secret()
    assert a != b and a.startswith("whsec_") and len(base64.b64decode(a[6:])) == 32
