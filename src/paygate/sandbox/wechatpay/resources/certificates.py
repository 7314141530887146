"""``GET /v3/certificates``: the platform certificate, encrypted for the calling merchant
with its APIv3 key (AEAD_AES_256_GCM, ``associated_data`` ``certificate``). The answer
is signed in certificate mode, like WeChat's."""

from __future__ import annotations

from ..api import Call, Reply
from ..notifications import encrypt_resource
from ..state import rfc3339
from ..store import WechatStore

__all__ = ["certificates"]


async def certificates(store: WechatStore, call: Call) -> Reply:
    platform = store.platform
    cert = platform.certificate
    encrypted = encrypt_resource(
        call.merchant.apiv3_key, platform.certificate_pem.encode(), "certificate", "certificate"
    )
    del encrypted["original_type"]
    entry = {
        "serial_no": platform.certificate_serial,
        "effective_time": rfc3339(cert.not_valid_before_utc),
        "expire_time": rfc3339(cert.not_valid_after_utc),
        "encrypt_certificate": encrypted,
    }
    return Reply(200, {"data": [entry]}, sign_with_certificate=True)
