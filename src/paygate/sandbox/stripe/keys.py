"""The demo account's API keys and webhook secret, kept in ``data_dir/stripe.json``.

The file is created once and read ever after, so credentials survive restarts (safe when
several processes start at once: :mod:`paygate.sandbox.harness.persist`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paygate.kit.crypto import Secret
from paygate.sandbox.harness.persist import load_or_create as load_or_create_document

__all__ = ["AccountKeys", "load_or_create"]

FILE_NAME = "stripe.json"


@dataclass(frozen=True)
class AccountKeys:
    account_id: str
    secret_key: Secret
    publishable_key: str
    webhook_secret: Secret

    @classmethod
    def generate(cls) -> AccountKeys:
        tail = secrets.token_urlsafe(72).replace("-", "").replace("_", "")[:99]
        account = "acct_1" + secrets.token_hex(8)[:15].upper()
        return cls(
            account_id=account,
            secret_key=Secret(f"sk_test_51{account[6:]}{tail}"),
            publishable_key=f"pk_test_51{account[6:]}{tail[::-1]}",
            webhook_secret=Secret("whsec_" + secrets.token_hex(32)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "secret_key": self.secret_key.reveal(),
            "publishable_key": self.publishable_key,
            "webhook_secret": self.webhook_secret.reveal(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountKeys:
        return cls(
            account_id=str(data["account_id"]),
            secret_key=Secret(str(data["secret_key"])),
            publishable_key=str(data["publishable_key"]),
            webhook_secret=Secret(str(data["webhook_secret"])),
        )


def load_or_create(data_dir: Path) -> AccountKeys:
    document = load_or_create_document(data_dir / FILE_NAME, lambda: AccountKeys.generate().to_json())
    return AccountKeys.from_json(document)
