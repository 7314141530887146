"""Platform certificates (certificate mode): reading ``GET /v3/certificates`` and caching
what it lists, per account.

Each entry's certificate is encrypted with the merchant's APIv3 key (AEAD_AES_256_GCM,
``associated_data`` ``certificate``), which only WeChat Pay and the merchant know: that is
what makes a fetched certificate trustworthy before anything else is (the answer's own
signature is then checked with the certificate it names). The list WeChat returns is
authoritative: a refresh *replaces* the account's certificates, so a certificate WeChat
stops listing stops being trusted; during a rotation WeChat lists both.

Refreshes are throttled per account (``refresh_interval`` seconds between fetches), so
answers naming unknown serials cannot make paygate hammer ``/v3/certificates``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from paygate.channels.contract import ChannelAccount
from paygate.channels.wechatpay.protocol import decrypt_resource, parse_time
from paygate.kit.crypto import CryptoError, load_public_key

__all__ = [
    "DEFAULT_REFRESH_INTERVAL",
    "CertificateStore",
    "PlatformCertificate",
    "parse_certificates",
]

#: Seconds between two fetches of ``/v3/certificates`` for one account.
DEFAULT_REFRESH_INTERVAL: Final = 60.0


@dataclass(frozen=True)
class PlatformCertificate:
    serial_no: str  # upper-case hex, as WeChat prints it
    public_key: rsa.RSAPublicKey = field(repr=False)
    not_before: datetime
    not_after: datetime

    def valid_at(self, now: datetime) -> bool:
        return self.not_before <= now <= self.not_after


def _entry(item: Any, apiv3_key: str) -> PlatformCertificate:
    if not isinstance(item, dict):
        raise ValueError("a certificate entry is not an object")
    serial = item.get("serial_no")
    if not isinstance(serial, str) or not serial:
        raise ValueError("a certificate entry lacks serial_no")
    pem = decrypt_resource(apiv3_key, item.get("encrypt_certificate")).decode("utf-8")
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
        public_key = load_public_key(pem)
    except (ValueError, CryptoError) as exc:
        raise ValueError(f"certificate {serial}: {exc}") from None
    if cert.serial_number != int(serial, 16):
        raise ValueError(f"certificate {serial} carries serial {cert.serial_number:X}")
    effective, expire = parse_time(item.get("effective_time")), parse_time(item.get("expire_time"))
    not_before = cert.not_valid_before_utc if effective is None else max(cert.not_valid_before_utc, effective)
    not_after = cert.not_valid_after_utc if expire is None else min(cert.not_valid_after_utc, expire)
    return PlatformCertificate(serial.upper(), public_key, not_before, not_after)


def parse_certificates(data: Any, apiv3_key: str) -> list[PlatformCertificate]:
    """``{"data": [...]}`` → certificates, each decrypted and checked against its serial.
    Raises ValueError when any entry is unusable (the whole answer is then untrusted)."""
    entries = data.get("data") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError("the answer lists no certificates")
    try:
        return [_entry(item, apiv3_key) for item in entries]
    except UnicodeDecodeError:
        raise ValueError("a decrypted certificate is not text") from None


AccountKey = tuple[int, str, str]


def account_key(account: ChannelAccount) -> AccountKey:
    return (account.id, account.merchant_id, account.gateway_url)


@dataclass
class _Entry:
    certificates: dict[str, PlatformCertificate] = field(default_factory=dict)
    attempted_at: float | None = None  # monotonic time of the last fetch attempt
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CertificateStore:
    """The platform certificates known for each account (one store per client)."""

    def __init__(
        self,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = refresh_interval
        self._monotonic = monotonic
        self._entries: dict[AccountKey, _Entry] = {}

    def _entry(self, account: ChannelAccount) -> _Entry:
        return self._entries.setdefault(account_key(account), _Entry())

    def lookup(self, account: ChannelAccount, serial: str, now: datetime) -> rsa.RSAPublicKey | None:
        """The public key of a known, currently valid certificate ``serial``."""
        cert = self._entry(account).certificates.get(serial.upper())
        return cert.public_key if cert is not None and cert.valid_at(now) else None

    def serials(self, account: ChannelAccount) -> list[str]:
        return sorted(self._entry(account).certificates)

    def lock(self, account: ChannelAccount) -> asyncio.Lock:
        return self._entry(account).lock

    def may_refresh(self, account: ChannelAccount) -> bool:
        attempted = self._entry(account).attempted_at
        return attempted is None or self._monotonic() - attempted >= self._interval

    def attempted(self, account: ChannelAccount) -> None:
        self._entry(account).attempted_at = self._monotonic()

    def replace(self, account: ChannelAccount, certificates: list[PlatformCertificate]) -> None:
        self._entry(account).certificates = {c.serial_no: c for c in certificates}
