"""One settings object for every SCIS process, read from ``SCIS_*`` environment variables.

Every field here is documented in docs/configuration.md; tests check the two agree.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "scis-development-secret-change-me"
# HS256 wants a key at least as long as its 256-bit output (RFC 7518 section 3.2).
MIN_SECRET_BYTES = 32

SERVICE_NAMES = ("frontend", "dashboard", "analyser", "profiles", "lives", "create", "database", "reports")


class Environment(StrEnum):
    development = "development"
    production = "production"


class Discovery(StrEnum):
    static = "static"
    consul = "consul"


class CaptureRunner(StrEnum):
    inprocess = "inprocess"
    kubernetes = "kubernetes"


class VideoStoreKind(StrEnum):
    directory = "directory"
    s3 = "s3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCIS_", extra="ignore")

    env: Environment = Field(Environment.development, description="development or production")
    home: Path = Field(Path.home() / ".scis", description="where the embedded stack keeps its data")
    database_url: str | None = Field(
        None, description="PostgreSQL URL the services use (role scis_app); unset starts the embedded one"
    )
    migration_database_url: str | None = Field(
        None, description="PostgreSQL URL migrations run with (the schema owner); unset uses SCIS_DATABASE_URL"
    )
    explorer_database_url: str | None = Field(
        None, description="PostgreSQL URL of the SQL explorer's own role (scis_explorer); unset disables it"
    )
    redis_url: str | None = Field(None, description="Redis URL; unset starts the embedded one")
    secret_key: str = Field(
        DEV_SECRET, description="signs login tokens; unset: a random key kept in SCIS_HOME; production: 32+ bytes"
    )
    token_ttl_seconds: int = Field(8 * 3600, ge=60, le=7 * 24 * 3600, description="lifetime of a login token")
    login_max_failures: int = Field(
        5, ge=1, le=1000, description="failed sign-ins for one account name before it is locked out"
    )
    login_address_max_failures: int = Field(
        20, ge=1, le=100_000, description="failed sign-ins from one client address before it is locked out"
    )
    login_failure_window_seconds: int = Field(
        900, ge=1, le=7 * 24 * 3600, description="how long failed sign-ins are counted"
    )
    login_lockout_seconds: int = Field(300, ge=1, le=7 * 24 * 3600, description="how long a lockout lasts")
    socket_session_check_seconds: float = Field(
        5.0, gt=0, le=3600, description="how often the analyser closes Socket.IO connections of expired sessions"
    )
    discovery: Discovery = Field(Discovery.static, description="static or consul")
    consul_url: str = Field("http://127.0.0.1:8500", description="Consul agent HTTP address")
    host: str = Field("127.0.0.1", description="address services bind to")
    advertise_host: str | None = Field(None, description="address other services use to reach this one")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="log level")
    db_pool_min: int = Field(1, ge=1, le=100, description="smallest PostgreSQL pool size per service")
    db_pool_max: int = Field(10, ge=1, le=200, description="largest PostgreSQL pool size per service")

    gateway_port: int = Field(8080, ge=1, le=65535, description="nginx gateway port")
    postgres_port: int = Field(5433, ge=1, le=65535, description="embedded PostgreSQL port")
    redis_port: int = Field(6379, ge=1, le=65535, description="embedded Redis port")
    simulator_port: int = Field(8900, ge=1, le=65535, description="the demo's TikTok LIVE simulator (`scis up --demo`)")
    frontend_port: int = Field(3000, ge=1, le=65535, description="frontend port")
    dashboard_port: int = Field(3001, ge=1, le=65535, description="dashboard service port")
    analyser_port: int = Field(3002, ge=1, le=65535, description="analyser service port")
    profiles_port: int = Field(3003, ge=1, le=65535, description="profiles service port")
    lives_port: int = Field(3004, ge=1, le=65535, description="lives service port")
    create_port: int = Field(3005, ge=1, le=65535, description="create service port")
    database_port: int = Field(3006, ge=1, le=65535, description="database explorer service port")
    reports_port: int = Field(3007, ge=1, le=65535, description="reports service port")

    frontend_service_url: str | None = Field(None, description="frontend address for peers (Kubernetes)")
    dashboard_service_url: str | None = Field(None, description="dashboard address for peers (Kubernetes)")
    analyser_service_url: str | None = Field(None, description="analyser address for peers (Kubernetes)")
    profiles_service_url: str | None = Field(None, description="profiles address for peers (Kubernetes)")
    lives_service_url: str | None = Field(None, description="lives address for peers (Kubernetes)")
    create_service_url: str | None = Field(None, description="create address for peers (Kubernetes)")
    database_service_url: str | None = Field(None, description="database explorer address for peers (Kubernetes)")
    reports_service_url: str | None = Field(None, description="reports address for peers (Kubernetes)")

    web_dist: Path | None = Field(None, description="the built web UI the frontend serves (default: services/web/dist)")
    tiktok_base_url: str = Field("https://www.tiktok.com", description="live pages and room API")
    webcast_base_url: str = Field("https://webcast.tiktok.com", description="webcast API and push server")
    chromium_path: Path = Field(Path("/usr/bin/chromium"), description="Chromium used by browser capture")
    capture_runner: CaptureRunner = Field(
        CaptureRunner.inprocess, description="inprocess, or kubernetes (one LiveMonitor per live)"
    )
    capture_batch_size: int = Field(500, ge=1, le=100_000, description="events per COPY batch")
    capture_queue_size: int = Field(10_000, ge=10, le=10_000_000, description="events held before spilling")
    watchdog_seconds: float = Field(20.0, gt=0, le=3600, description="silence before a socket is deemed dead")
    capture_lease_seconds: float = Field(
        30.0, ge=2, le=3600, description="a capture's lease lasts this long unless renewed (renewed every third)"
    )
    capture_stop_timeout_seconds: float = Field(
        15.0, gt=0, le=3600, description="on stop, how long the store may take nothing before a capture exits unsealed"
    )
    capture_metrics_port: int = Field(
        0, ge=0, le=65535, description="port a `scis capture` process serves Prometheus /metrics on; 0: none"
    )
    streak_timeout_seconds: float = Field(10.0, gt=0, le=3600, description="gift streak closed after this")
    video_store: VideoStoreKind = Field(
        VideoStoreKind.directory, description="where recorded video goes: directory (SCIS_VIDEO_DIR) or s3"
    )
    video_dir: Path | None = Field(None, description="folder of recorded video (default: SCIS_HOME/video)")
    video_segment_seconds: float = Field(10.0, ge=1, le=600, description="length of one hashed video segment")
    video_s3_endpoint: str | None = Field(None, description="S3-compatible endpoint URL (SCIS_VIDEO_STORE=s3)")
    video_s3_bucket: str = Field("scis-video", description="bucket of recorded video (SCIS_VIDEO_STORE=s3)")
    video_s3_region: str = Field("us-east-1", description="region the S3 requests are signed for")
    video_s3_access_key: str | None = Field(None, description="S3 access key id (SCIS_VIDEO_STORE=s3)")
    video_s3_secret_key: str | None = Field(None, description="S3 secret access key (SCIS_VIDEO_STORE=s3)")
    wait_poll_seconds: float = Field(
        30.0, ge=1, le=3600, description="how often a waiting capture polls an offline target's room status"
    )
    webrtc_ice_servers: str = Field(
        "", description="comma-separated STUN/TURN URLs the lives service offers WebRTC viewers; empty: host only"
    )
    query_timeout_ms: int = Field(5000, ge=100, le=600_000, description="database explorer statement timeout")
    query_row_limit: int = Field(1000, ge=1, le=100_000, description="database explorer row cap")
    explorer_history_keep: int = Field(
        1000, ge=0, le=1_000_000, description="explorer queries kept per account (older ones pruned); 0: all"
    )
    report_branding_dir: Path | None = Field(
        None, description="folder with an organisation's report logo and wording overrides"
    )
    report_workers: int = Field(1, ge=0, le=16, description="report jobs one reports replica runs at once; 0: none")
    report_job_heartbeat_seconds: float = Field(
        2.0, gt=0, le=600, description="how often a running report job proves its worker is alive"
    )
    report_job_stale_seconds: float = Field(
        60.0, gt=0, le=86_400, description="a running report job without a heartbeat this long is taken again"
    )
    report_job_max_attempts: int = Field(3, ge=1, le=100, description="tries before a report job is failed")

    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+$",
        description="address browsers reach SCIS at (scheme://host[:port]); unset: http://localhost:<gateway port>",
    )
    trusted_proxies: str = Field(
        "127.0.0.1/32,::1/128",
        description="comma-separated networks whose X-Real-IP and X-Request-ID are believed (the gateway's)",
    )
    api_docs: bool | None = Field(
        None, description="serve the Swagger UI and OpenAPI documents; unset: on except in production"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or network (e.g. 10.0.0.0/8)") from None
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env is Environment.production and self.secret_key == DEV_SECRET:
            raise ValueError("SCIS_SECRET_KEY must be set to a secret of your own when SCIS_ENV=production")
        if self.env is Environment.production and len(self.secret_key.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"SCIS_SECRET_KEY is {len(self.secret_key.encode())} bytes; production needs at least "
                f"{MIN_SECRET_BYTES} random bytes (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if self.db_pool_min > self.db_pool_max:
            raise ValueError("SCIS_DB_POOL_MIN must not exceed SCIS_DB_POOL_MAX")
        return self

    @property
    def origin(self) -> str:
        """The Origin browsers send for SCIS pages (no trailing slash): SCIS_PUBLIC_URL, else the local gateway."""
        return (self.public_url or f"http://localhost:{self.gateway_port}").rstrip("/")

    @property
    def allowed_origins(self) -> list[str]:
        """Origins SCIS pages may come from: SCIS_PUBLIC_URL only, or, unset, the local gateway by any loopback name."""
        if self.public_url:
            return [self.origin.lower()]
        return [f"http://{host}:{self.gateway_port}" for host in ("localhost", "127.0.0.1", "[::1]")]

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.env is not Environment.production

    def port_of(self, service: str) -> int:
        """The port a service listens on."""
        if service not in SERVICE_NAMES:
            raise KeyError(f"unknown service {service!r}; known: {', '.join(SERVICE_NAMES)}")
        return int(getattr(self, f"{service}_port"))

    def url_of(self, service: str) -> str:
        """The static address of a service: SCIS_<SERVICE>_SERVICE_URL when set, else host and port."""
        self.port_of(service)
        explicit = getattr(self, f"{service}_service_url")
        if explicit:
            return str(explicit).rstrip("/")
        host = self.advertise_host or ("127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host)
        return f"http://{host}:{self.port_of(service)}"


class SettingsError(Exception):
    """A setting has a value SCIS cannot use; the message names the variable."""


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first bad variable, its value and what is expected."""
    first = error.errors()[0]
    loc = first.get("loc") or ()
    if loc:
        name = "SCIS_" + str(loc[0]).upper()
        value = first.get("input")
        return f"invalid setting {name}={value!r}: {first['msg']}"
    return f"invalid settings: {first['msg'].removeprefix('Value error, ')}"


def load_settings() -> Settings:
    """Read settings from the environment, raising SettingsError with one readable line."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
