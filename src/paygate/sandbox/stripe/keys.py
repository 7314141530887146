"""The demo account's API keys and webhook secret, kept in ``data_dir/stripe.json``.

The file is created once and read ever after, so credentials survive restarts. Two
processes racing to create it both write a temporary file and ``link`` it into place;
``link`` fails when the name exists, so exactly one version wins and both read it back.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paygate.kit.crypto import Secret

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


def _read(path: Path) -> AccountKeys | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return AccountKeys.from_json(json.loads(text))


def load_or_create(data_dir: Path) -> AccountKeys:
    path = data_dir / FILE_NAME
    existing = _read(path)
    if existing is not None:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    keys = AccountKeys.generate()
    fd, tmp = tempfile.mkstemp(prefix=".stripe-", suffix=".json", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys.to_json(), handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # atomic create-if-absent: the first writer wins
        except FileExistsError:
            pass
        except OSError:  # filesystems without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    winner = _read(path)
    if winner is None:  # pragma: no cover - the file was removed under us
        raise RuntimeError(f"could not create {path}")
    return winner
