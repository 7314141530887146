"""paygate's own platform key pair (signs responses to RSA apps, app notifications)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from paygate.kit.crypto import generate_rsa_key, load_private_key, private_key_pem, public_key_pem

if TYPE_CHECKING:
    from paygate.config import Settings

__all__ = ["platform_private_key", "platform_public_key"]


def platform_private_key(settings: Settings) -> str:
    """From ``PAYGATE_PLATFORM_PRIVATE_KEY`` or, in dev, ``data_dir/platform_key.pem``."""
    explicit = os.environ.get("PAYGATE_PLATFORM_PRIVATE_KEY")
    if explicit:
        return explicit
    if settings.env == "production":
        raise RuntimeError("PAYGATE_PLATFORM_PRIVATE_KEY must be set in production")
    path = settings.data_dir / "platform_key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(private_key_pem(generate_rsa_key()))
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return path.read_text()


def platform_public_key(settings: Settings) -> str:
    return public_key_pem(load_private_key(platform_private_key(settings)))
