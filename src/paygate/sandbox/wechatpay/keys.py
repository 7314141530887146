"""Key material of the WeChat Pay sandbox and its persistence.

``data_dir/wechatpay.json`` keeps the demo merchant (mchid, appid, API key pair and
serial, APIv3 key) and the platform side (key pair, public key id, self-signed platform
certificate) so that credentials survive restarts. Two processes starting at once end up
with the *same* keys (:mod:`paygate.sandbox.harness.persist`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from paygate.kit.crypto import (
    generate_rsa_key,
    load_private_key,
    load_public_key,
    private_key_pem,
    public_key_pem,
)
from paygate.sandbox.harness.persist import load_or_create as load_or_create_document
from paygate.sandbox.harness.persist import replace_document

__all__ = [
    "KEY_FILE_NAME",
    "Merchant",
    "Platform",
    "load_or_create",
    "new_apiv3_key",
    "new_appid",
    "new_mchid",
    "new_serial_no",
]

KEY_FILE_NAME = "wechatpay.json"
_FILE_VERSION = 1
CERTIFICATE_LIFETIME = dt.timedelta(days=5 * 365)
# Regenerate the platform certificate once it has less than this left to live.
_CERTIFICATE_RENEW_MARGIN = dt.timedelta(days=30)


@dataclass(frozen=True)
class Merchant:
    """A direct merchant known to the sandbox. ``private_key_pem`` is kept only for
    merchants whose key pair the sandbox generated (so it can hand out credentials)."""

    mchid: str
    appids: tuple[str, ...]
    serial_no: str
    public_key: rsa.RSAPublicKey = field(repr=False)
    apiv3_key: str = field(repr=False)
    private_key_pem: str | None = field(default=None, repr=False)

    def credentials(self) -> dict[str, Any]:
        creds: dict[str, Any] = {
            "mchid": self.mchid,
            "appid": self.appids[0],
            "merchant_serial_no": self.serial_no,
            "apiv3_key": self.apiv3_key,
        }
        if self.private_key_pem is not None:
            creds["merchant_private_key"] = self.private_key_pem
        return creds


@dataclass(frozen=True)
class Platform:
    """WeChat Pay's side: one key pair, published both as a public key (with its id)
    and inside a self-signed platform certificate."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    public_key_id: str
    certificate: x509.Certificate
    certificate_pem: str

    @property
    def certificate_serial(self) -> str:
        return serial_hex(self.certificate.serial_number)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key)


def serial_hex(number: int) -> str:
    """Certificate serial as WeChat prints it: upper-case hex, 40 digits."""
    return f"{number:040X}"


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def new_mchid() -> str:
    return "16" + _digits(8)


def new_appid() -> str:
    return "wx" + secrets.token_hex(8)


def new_serial_no() -> str:
    return secrets.token_hex(20).upper()


def new_apiv3_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


def _new_public_key_id(mchid: str, today: dt.date) -> str:
    return "PUB_KEY_ID_01" + mchid + today.strftime("%Y%m%d") + _digits(14)


def make_platform_certificate(key: rsa.RSAPrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenpay.com"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Tenpay.com CA Center"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (paygate sandbox)"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _certificate_usable(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc - _CERTIFICATE_RENEW_MARGIN


def _fresh_document(now: dt.datetime) -> dict[str, Any]:
    merchant_key = generate_rsa_key()
    platform_key = generate_rsa_key()
    mchid = new_mchid()
    cert = make_platform_certificate(platform_key, now)
    return {
        "version": _FILE_VERSION,
        "mchid": mchid,
        "appid": new_appid(),
        "merchant_private_key": private_key_pem(merchant_key, "pkcs8"),
        "merchant_serial_no": new_serial_no(),
        "apiv3_key": new_apiv3_key(),
        "platform_private_key": private_key_pem(platform_key, "pkcs8"),
        "platform_public_key_id": _new_public_key_id(mchid, now.date()),
        "platform_certificate": _certificate_pem(cert),
    }


def load_or_create(data_dir: Path, now: dt.datetime | None = None) -> tuple[Merchant, Platform]:
    """The demo merchant and the platform keys, created on first use."""
    now = now or dt.datetime.now(dt.UTC)
    path = data_dir / KEY_FILE_NAME
    document = load_or_create_document(path, lambda: _fresh_document(now))
    if document.get("version") != _FILE_VERSION:
        raise ValueError(f"{path} is not a version-{_FILE_VERSION} WeChat Pay sandbox key file")
    platform_key = load_private_key(document["platform_private_key"])
    cert = x509.load_pem_x509_certificate(document["platform_certificate"].encode())
    if not _certificate_usable(cert, now):
        cert = make_platform_certificate(platform_key, now)
        document = {**document, "platform_certificate": _certificate_pem(cert)}
        replace_document(path, document)
    merchant_private = load_private_key(document["merchant_private_key"])
    merchant = Merchant(
        mchid=document["mchid"],
        appids=(document["appid"],),
        serial_no=document["merchant_serial_no"],
        public_key=merchant_private.public_key(),
        apiv3_key=document["apiv3_key"],
        private_key_pem=document["merchant_private_key"],
    )
    platform = Platform(
        private_key=platform_key,
        public_key_id=document["platform_public_key_id"],
        certificate=cert,
        certificate_pem=_certificate_pem(cert),
    )
    return merchant, platform


def build_merchant(
    *,
    mchid: str | None = None,
    appids: tuple[str, ...] | list[str] | None = None,
    serial_no: str | None = None,
    public_key: str | None = None,
    apiv3_key: str | None = None,
) -> Merchant:
    """A merchant for tests. Without ``public_key`` a key pair is generated and the
    private key is kept so :meth:`Merchant.credentials` can return it."""
    private_pem: str | None = None
    if public_key is None:
        key = generate_rsa_key()
        private_pem = private_key_pem(key, "pkcs8")
        pub = key.public_key()
    else:
        pub = load_public_key(public_key)
    apiv3 = apiv3_key or new_apiv3_key()
    if len(apiv3.encode()) != 32:
        raise ValueError("an APIv3 key is 32 ASCII characters")
    return Merchant(
        mchid=mchid or new_mchid(),
        appids=tuple(appids) if appids else (new_appid(),),
        serial_no=(serial_no or new_serial_no()).upper(),
        public_key=pub,
        apiv3_key=apiv3,
        private_key_pem=private_pem,
    )
