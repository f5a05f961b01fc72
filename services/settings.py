"""All configuration, in one typed object read from `TOUCHSTREAM_*` environment variables.

The defaults are the embedded profile: a Tansu broker started as a child process on
127.0.0.1, chDB under `./.touchstream`, short consumer-group timeouts. Production points
`kafka_bootstrap` at Apache Kafka, `warehouse_url` at a ClickHouse server and turns
`embedded_broker` off; the code path is the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHSTREAM_", extra="ignore")

    role: Literal["all", "gateway", "processors"] = Field(
        "all",
        description="What `up` runs: all (gateway + processors), the gateway or the processors.",
    )
    profile: Literal["embedded", "production"] = Field(
        "embedded", description="embedded: short group timeouts for the in-memory broker."
    )
    data_dir: Path = Field(Path(".touchstream"), description="Warehouse and runtime files.")
    warehouse_url: str | None = Field(
        None,
        description="chdb:///path or http(s)://host:8123[/database]; default chdb://<data_dir>/warehouse.",
    )
    warehouse_user: str = "default"
    warehouse_password: SecretStr = SecretStr("")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    embedded_broker: bool = Field(True, description="Start Tansu as a child process of `up`.")
    topic_partitions: int = Field(4, ge=1, le=1024)
    topic_replication: int = Field(
        1, ge=1, le=16, description="Replication factor of the topics `up` creates."
    )
    touchpoints_topic: str = "cx.touchpoints.v1"
    alerts_topic: str = "cx.alerts.v1"
    deadletter_topic: str = "cx.deadletter.v1"
    consumer_group: str = "touchstream-processors"

    http_host: str = Field("127.0.0.1", description="Bind address of the HTTP server.")
    api_keys_file: Path | None = Field(
        None,
        description="JSON file of hashed API keys (`touchstream keys add`); unset: anonymous, "
        "allowed on a loopback address only.",
    )
    allow_anonymous: bool = Field(
        False,
        description="Serve without API keys on a non-loopback address (behind a proxy that "
        "authenticates).",
    )
    rate_limit_per_s: float = Field(
        200.0, gt=0, description="Requests per second per API key (or client address); beyond: 429."
    )
    rate_limit_burst: int = Field(400, ge=1, description="Requests a key may send at once.")
    api_key: SecretStr = Field(
        SecretStr(""), description="The key the CLI presents to a running `up` that enforces keys."
    )
    http_port: int = Field(8088, ge=0, le=65535)
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Larger bodies get 413.")
    max_batch_events: int = Field(5000, ge=1, description="Events per ingest request.")
    publish_timeout_s: float = Field(10.0, gt=0, description="Broker ack wait before 503.")
    max_inflight_requests: int = Field(
        32,
        ge=1,
        description="Ingest requests handled at once; beyond: 503 at once, without reading the "
        "body (so memory stays bounded by this times the body limit).",
    )

    consumer_fetch_wait_s: float = Field(
        0.05,
        gt=0,
        le=5,
        description="Longest wait of one consumer fetch; Tansu answers only when it expires.",
    )
    processor_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Embedded: 1 runs the processors inside `up`; more: `up` keeps the gateway, "
        "broker and chDB and starts this many processor processes (at most the partitions).",
    )
    batch_max_events: int = Field(2000, ge=1, description="Processor micro-batch size.")
    batch_max_wait_s: float = Field(0.2, gt=0, description="Processor micro-batch wait.")
    write_retry_max_s: float = Field(30.0, gt=0, description="Cap of the warehouse-retry back-off.")
    drain_timeout_s: float = Field(
        120.0,
        ge=0,
        description="On stop with the embedded broker: longest wait for the processors to "
        "project what the broker holds before it goes (its log is in memory only).",
    )

    churn_alert_at: float = Field(
        0.8, gt=0, le=1, description="Churn risk at which a customer alert opens."
    )
    churn_clear_below: float = Field(
        0.6, ge=0, lt=1, description="Churn risk below which an open alert is resolved."
    )
    value_refit_interval_s: float = Field(
        3600.0, ge=0, description="How often the value model is refitted; 0: never."
    )

    log_level: Literal["debug", "info", "warn", "error"] = "warn"

    webhook_urls: str = Field(
        "", description="Comma-separated http(s) URLs that receive every alert; empty: off."
    )
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key of X-Touchstream-Signature."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="One webhook request's time limit.")
    webhook_max_attempts: int = Field(
        10, ge=1, le=100, description="Attempts per alert and URL before it counts as failed."
    )
    webhook_retry_max_s: float = Field(
        60.0, gt=0, le=600, description="Cap of the retry back-off and of an honoured Retry-After."
    )
    webhook_consumer_group: str = Field(
        "touchstream-webhooks", description="Consumer group of the webhook delivery."
    )

    @property
    def resolved_warehouse_url(self) -> str:
        if self.warehouse_url:
            return self.warehouse_url
        return f"chdb://{(self.data_dir / 'warehouse').resolve()}"

    @property
    def chdb_warehouse(self) -> bool:
        """Whether the warehouse is chDB: in this process, which only one process may open."""
        return self.resolved_warehouse_url.startswith("chdb://")

    @property
    def runtime_file(self) -> Path:
        """Where a running `up` publishes its ports, so `sql` and `demo` can find it."""
        return self.data_dir / "runtime.json"

    @property
    def group_timeouts(self) -> dict[str, float]:
        """Consumer-group timeouts: Tansu completes a join only after the rebalance timeout."""
        if self.profile == "embedded":
            return {"session": 6.0, "rebalance": 4.0, "heartbeat": 1.0}
        return {"session": 30.0, "rebalance": 60.0, "heartbeat": 3.0}
