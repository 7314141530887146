"""Settings, loaded once and passed in (never a global).

Every field can be set by environment (``PAYGATE_<FIELD>``, nested with ``__``) or in an
optional TOML file named by ``PAYGATE_CONFIG_FILE``. Environment wins over the file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYGATE_", env_nested_delimiter="__", extra="ignore")

    env: str = "dev"
    database_url: str = "sqlite+aiosqlite:///./var/paygate.db"
    #: Where the embedded database, sandbox keys and the dev master key live.
    data_dir: Path = Path("./var")
    #: base64 of 32 bytes; encrypts channel keys and app secrets at rest. In dev it is made
    #: once and kept in ``data_dir/master.key``; production must set it.
    master_key: str | None = None
    redis_url: str | None = None

    internal_host: str = "127.0.0.1"
    internal_port: int = 8000
    public_host: str = "127.0.0.1"
    public_port: int = 8001
    #: Base URL at which channels reach the public listener (notify/return URLs).
    public_base_url: str = "http://127.0.0.1:8001"
    #: Source networks allowed on the internal listener (R-SEC-2).
    internal_allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    #: Honour X-Forwarded-For from these proxies only.
    trusted_proxies: list[str] = Field(default_factory=list)

    sandbox_enabled: bool = True
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8090
    #: 1.0 = the channels' real notification schedules; 0.001 turns 4 minutes into 0.24 s.
    sandbox_time_scale: float = 1.0

    sign_window_seconds: int = 300
    default_expire_minutes: int = 30
    max_expire_minutes: int = 60 * 24 * 15
    query_cache_seconds: float = 2.0
    max_body_bytes: int = 64 * 1024
    channel_timeout_seconds: float = 10.0
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    workers_enabled: bool = True

    # --- events (R-NTF-5, R-NTF-6) and workers (R-OPS-3): docs/operations.md
    #: RabbitMQ, e.g. amqp://guest:guest@127.0.0.1:5672/ — events go to a topic exchange
    broker_url: str | None = None
    broker_exchange: str = "paygate.events"
    #: how long an app may take to answer a notification
    event_timeout_seconds: float = 10.0
    #: deliveries one dispatcher round claims, and how many of them are sent at once
    event_batch_size: int = 200
    event_concurrency: int = 64
    #: how long an idle dispatcher or relay waits before it looks again
    event_poll_seconds: float = 0.5
    #: a claimed delivery is another dispatcher's to send after the longest a round can take
    #: plus this margin (a dispatcher that died is replaced after that long)
    event_lease_margin_seconds: float = 30.0
    #: seconds before each attempt (default: 16 attempts over about 24 h); ±jitter at random
    event_retry_schedule: list[float] | None = None
    event_retry_jitter: float = 0.2
    #: after ``paygate app rotate-webhook-secret`` the old secret signs this much longer
    webhook_rotation_grace_hours: float = 24.0
    #: the demo app's notification receiver (``paygate demo receiver``; ``paygate run`` with
    #: the sandboxes)
    demo_receiver_host: str = "127.0.0.1"
    demo_receiver_port: int = 8002
    #: crash-safety tests only: names of places where a process kills itself (kit/failpoints.py)
    failpoints: list[str] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = False

    #: The channels to enable (names from paygate.catalog); all of them when unset.
    channels: list[str] | None = None

    @field_validator("sandbox_time_scale")
    @classmethod
    def _positive_scale(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("sandbox_time_scale must be positive")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("PAYGATE_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def master_key_bytes(self) -> bytes:
        """The master key; in dev, created once under ``data_dir``."""
        if self.master_key:
            return base64.b64decode(self.master_key)
        if self.env == "production":
            raise RuntimeError("PAYGATE_MASTER_KEY must be set in production")
        path = self.data_dir / "master.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.b64encode(os.urandom(32)).decode())
            path.chmod(0o600)
        return base64.b64decode(path.read_text().strip())

    @property
    def internal_base_url(self) -> str:
        return f"http://{self.internal_host}:{self.internal_port}"

    @property
    def sandbox_base_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def demo_receiver_url(self) -> str:
        return f"http://{self.demo_receiver_host}:{self.demo_receiver_port}/webhooks"


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
