"""The sandbox's identity: its own Alipay key pair, the demo merchant app and demo buyer.

Persisted in ``data_dir/alipay.json`` so credentials survive restarts (created once, safe
when several processes start at once: :mod:`paygate.sandbox.harness.persist`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paygate.kit.crypto import generate_rsa_key, private_key_pem, public_key_pem
from paygate.sandbox.harness.persist import load_or_create as load_or_create_document

__all__ = ["FILE_NAME", "Buyer", "MerchantApp", "SandboxIdentity", "load_or_create"]

FILE_NAME = "alipay.json"
_FORMAT_VERSION = 1


def _digits(n: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(n))


@dataclass(frozen=True)
class MerchantApp:
    """A merchant application registered at the sandbox (an ``app_id`` and its keys).

    ``methods`` lists the OpenAPI methods the app has signed products for; ``None``
    means all of them. ``app_private_key`` is only known for the demo merchant."""

    app_id: str
    seller_id: str
    app_public_key: str
    app_private_key: str | None = None
    methods: frozenset[str] | None = None

    @property
    def seller_email(self) -> str:
        return f"sandbox_{self.seller_id[-6:]}@alipay.example"

    @property
    def bill_account(self) -> str:
        """The 20-digit account number printed in bills (PID + ``0156``)."""
        return self.seller_id + "0156"


@dataclass(frozen=True)
class Buyer:
    """An Alipay user paying in the sandbox."""

    user_id: str
    logon_id: str
    name: str = "沙箱买家"

    @property
    def masked_logon_id(self) -> str:
        """Alipay masks the logon id in every answer: ``san***@alipay.example``,
        ``188******12``."""
        if "@" in self.logon_id:
            local, _, domain = self.logon_id.partition("@")
            return f"{local[:3]}***@{domain}"
        return f"{self.logon_id[:3]}******{self.logon_id[-2:]}"

    @property
    def bill_account(self) -> str:
        return f"*{self.name[-2:]}({self.masked_logon_id})"

    @classmethod
    def for_user_id(cls, user_id: str) -> Buyer:
        """A buyer known only by ``buyer_id`` gets a phone-number logon derived from it."""
        return cls(user_id=user_id, logon_id="188" + user_id[-8:].rjust(8, "0"))


@dataclass(frozen=True)
class SandboxIdentity:
    alipay_private_key: str
    alipay_public_key: str
    demo_merchant: MerchantApp
    demo_buyer: Buyer

    def to_json(self) -> dict[str, Any]:
        m = self.demo_merchant
        return {
            "version": _FORMAT_VERSION,
            "alipay_private_key": self.alipay_private_key,
            "alipay_public_key": self.alipay_public_key,
            "demo_merchant": {
                "app_id": m.app_id,
                "seller_id": m.seller_id,
                "app_private_key": m.app_private_key,
                "app_public_key": m.app_public_key,
            },
            "demo_buyer": {"user_id": self.demo_buyer.user_id, "logon_id": self.demo_buyer.logon_id},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxIdentity:
        m = data["demo_merchant"]
        b = data["demo_buyer"]
        return cls(
            alipay_private_key=data["alipay_private_key"],
            alipay_public_key=data["alipay_public_key"],
            demo_merchant=MerchantApp(
                app_id=m["app_id"],
                seller_id=m["seller_id"],
                app_public_key=m["app_public_key"],
                app_private_key=m["app_private_key"],
            ),
            demo_buyer=Buyer(user_id=b["user_id"], logon_id=b["logon_id"]),
        )

    @classmethod
    def generate(cls) -> SandboxIdentity:
        alipay_key = generate_rsa_key()
        app_key = generate_rsa_key()
        return cls(
            alipay_private_key=private_key_pem(alipay_key, "pkcs1"),
            alipay_public_key=public_key_pem(alipay_key),
            demo_merchant=MerchantApp(
                app_id="2021000" + _digits(9),
                seller_id="2088" + _digits(12),
                app_public_key=public_key_pem(app_key),
                app_private_key=private_key_pem(app_key, "pkcs1"),
            ),
            demo_buyer=Buyer(user_id="2088" + _digits(12), logon_id="sandbox_buyer@alipay.example"),
        )


def load_or_create(data_dir: Path) -> SandboxIdentity:
    """Read ``data_dir/alipay.json``, creating it with fresh keys on first use."""
    document = load_or_create_document(data_dir / FILE_NAME, lambda: SandboxIdentity.generate().to_json())
    return SandboxIdentity.from_json(document)
