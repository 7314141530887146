"""paygate's own platform key pair (signs responses to RSA apps, app notifications)."""

from __future__ import annotations

import os
from pathlib import Path

from paygate.kit.crypto import generate_rsa_key, load_private_key, private_key_pem, public_key_pem

__all__ = ["platform_private_key", "platform_public_key"]


def platform_private_key(data_dir: Path, *, production: bool = False) -> str:
    """From ``PAYGATE_PLATFORM_PRIVATE_KEY`` or, outside production, ``data_dir/platform_key.pem``
    (made once)."""
    explicit = os.environ.get("PAYGATE_PLATFORM_PRIVATE_KEY")
    if explicit:
        return explicit
    if production:
        raise RuntimeError("PAYGATE_PLATFORM_PRIVATE_KEY must be set in production")
    path = data_dir / "platform_key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(private_key_pem(generate_rsa_key()))
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return path.read_text()


def platform_public_key(private_pem: str) -> str:
    return public_key_pem(load_private_key(private_pem))
