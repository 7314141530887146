"""Settings, loaded once and passed in (never a global).

Every field can be set by environment (``PAYGATE_<FIELD>``, nested with ``__``) or in an
optional TOML file named by ``PAYGATE_CONFIG_FILE``. Environment wins over the file.

The data directory (dev keys, sandbox keys, the embedded SQLite database) never depends on
the current directory: ``PAYGATE_DATA_DIR`` if set, else :func:`default_data_dir`.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

__all__ = ["Settings", "default_data_dir", "load_settings"]


class RefundApprovalRuleSetting(BaseModel):
    """One refund approval rule (docs/operations.md): the app (``*`` every app) and one
    condition: ``always``, ``above`` (minor units) or ``daily_total_above`` (minor units)."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = "*"
    always: bool = False
    above: int | None = Field(default=None, ge=0)
    daily_total_above: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_condition(self) -> RefundApprovalRuleSetting:
        given = [self.always, self.above is not None, self.daily_total_above is not None]
        if sum(given) != 1:
            raise ValueError("a refund approval rule has exactly one of always, above, daily_total_above")
        return self


def default_data_dir(package_dir: Path | None = None) -> Path:
    """Where paygate keeps its data when ``PAYGATE_DATA_DIR`` is not set.

    - In a checkout (the package runs from ``<root>/src/paygate``, as with ``pip install -e``,
      which ``make`` does): ``<root>/var``, the directory ``make run`` uses.
    - Installed as a package: ``$XDG_DATA_HOME/paygate`` (``~/.local/share/paygate``).

    Never the current directory: ``paygate`` run from elsewhere must find the same keys.
    """
    package = (package_dir or Path(__file__).parent).resolve()
    root = package.parent.parent
    if package.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root / "var"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "paygate"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAYGATE_", env_nested_delimiter="__", extra="ignore")

    env: str = "dev"
    #: Default: SQLite in ``data_dir/paygate.db``.
    database_url: str = ""
    #: Where the embedded database, sandbox keys and the dev master key live (made absolute).
    data_dir: Path = Field(default_factory=default_data_dir)
    #: base64 of 32 bytes; encrypts channel keys and app secrets at rest. In dev it is made
    #: once and kept in ``data_dir/master.key``; production must set it.
    master_key: str | None = None
    #: Connections per process to PostgreSQL/MariaDB: kept open (``db_pool_size``) and opened
    #: beyond it under a burst, then closed (``db_pool_overflow``). The pool should cover the
    #: requests one process has in flight: a connection opened and closed per request costs
    #: more than the request. Ignored for SQLite.
    db_pool_size: int = Field(default=20, ge=1)
    db_pool_overflow: int = Field(default=20, ge=0)
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
    #: R-CH-4 bulkhead: calls in flight per channel account, and how long a call waits for a slot.
    channel_max_in_flight: int = Field(default=32, ge=1)
    channel_queue_seconds: float = Field(default=1.0, ge=0)
    #: ``paygate run`` on SIGTERM/SIGINT: requests in flight get this long to finish, then
    #: they are cancelled; a second signal stops waiting at once (see docs/operations.md).
    shutdown_timeout_seconds: float = 10.0
    workers_enabled: bool = True

    # --- reconciliation (R-REC-1..5): docs/operations.md
    #: a read replica for bulk reads (bill and settlement queries, exports); empty: the primary
    database_replica_url: str = ""
    #: money paygate counted this close to the end of a bill's day may be in the next day's
    #: bill (R-REC-3): it waits for that bill before it is reported missing
    recon_cutoff_minutes: float = Field(default=15.0, ge=0)
    #: how often the daily job looks for accounts whose yesterday is not reconciled yet, and
    #: how long a channel that has no bill yet is left before it is asked again
    recon_interval_seconds: float = Field(default=3600.0, gt=0)
    recon_retry_seconds: float = Field(default=3600.0, gt=0)
    #: a run holds its (account, day) this long; another process takes over after
    recon_lease_seconds: float = Field(default=1800.0, gt=0)

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
    #: Per channel, the seconds between checks of an open trade or refund at the channel
    #: (R-NTF-3); the last one repeats. Default 1, 2, 5, 10, 20, 40, 100, 300, 600.
    check_schedules: dict[str, list[float]] = Field(default_factory=dict)
    #: A claimed check is the claiming worker's this long; one that dies is retried after it.
    check_lease_seconds: float = Field(default=120.0, gt=0)
    #: Refunds that wait for an operator's approval (R-REF-5); none when empty.
    refund_approval_rules: list[RefundApprovalRuleSetting] = Field(default_factory=list)
    #: The operators' console (R-OPS-2): how long a session lasts without use, and whether
    #: its cookie is sent over HTTPS only (set true behind TLS).
    console_session_minutes: int = Field(default=30, ge=1)
    console_cookie_secure: bool = False

    @field_validator("sandbox_time_scale")
    @classmethod
    def _positive_scale(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("sandbox_time_scale must be positive")
        return v

    @model_validator(mode="after")
    def _locate_data(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'paygate.db'}"
        return self

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

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, if the database is one (not in memory)."""
        if not self.is_sqlite:
            return None
        database = make_url(self.database_url).database
        return Path(database) if database and database != ":memory:" else None

    def missing_data(self, *, sandbox: bool = False) -> list[str]:
        """What a command working on existing data would have to create afresh here, i.e.
        where it would silently start over with new keys: empty when the data directory was
        initialised (``paygate migrate`` + ``paygate demo seed``, or ``make run``)."""
        missing: list[str] = []
        if self.sqlite_file is not None and not self.sqlite_file.is_file():
            missing.append(f"the database {self.sqlite_file.name}")
        if not self.master_key and not (self.data_dir / "master.key").is_file():
            missing.append("master.key")
        if (
            not os.environ.get("PAYGATE_PLATFORM_PRIVATE_KEY")
            and not (self.data_dir / "platform_key.pem").is_file()
        ):
            missing.append("platform_key.pem")
        if sandbox and not (self.data_dir / "sandbox").is_dir():
            missing.append("the sandbox keys (sandbox/)")
        return missing

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
