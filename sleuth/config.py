"""The one settings object. Read from the environment (12-factor); CLI flags override the same fields.

Only activities, the CLI and the intake read settings: workflow code never touches the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sleuth.models.investigation import Budget


class TemporalAccess(BaseModel):
    """How to reach a Temporal that asks for more than plaintext gRPC (Temporal Cloud, a secured
    cluster): an API key and/or TLS, under the variable names Temporal's own CLI and SDKs read."""

    api_key: str | None = None
    tls: bool = False
    client_cert_path: Path | None = None
    client_key_path: Path | None = None
    server_ca_cert_path: Path | None = None
    server_name: str | None = None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    temporal_address: str | None = Field(default=None, alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default="sleuth", alias="SLEUTH_TASK_QUEUE")
    temporal_api_key: str | None = Field(default=None, alias="TEMPORAL_API_KEY")
    temporal_tls: bool | None = Field(default=None, alias="TEMPORAL_TLS")
    temporal_tls_client_cert_path: Path | None = Field(default=None, alias="TEMPORAL_TLS_CLIENT_CERT_PATH")
    temporal_tls_client_key_path: Path | None = Field(default=None, alias="TEMPORAL_TLS_CLIENT_KEY_PATH")
    temporal_tls_server_ca_cert_path: Path | None = Field(
        default=None, alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH"
    )
    temporal_tls_server_name: str | None = Field(default=None, alias="TEMPORAL_TLS_SERVER_NAME")

    dd_api_key: str | None = Field(default=None, alias="DD_API_KEY")
    dd_app_key: str | None = Field(default=None, alias="DD_APP_KEY")
    dd_site: str = Field(default="datadoghq.com", alias="DD_SITE")
    datadog_url: str | None = Field(default=None, alias="SLEUTH_DATADOG_URL")
    datadog_timeout_seconds: float = Field(default=10.0, alias="SLEUTH_DATADOG_TIMEOUT")
    datadog_max_retries: int = Field(default=3, alias="SLEUTH_DATADOG_MAX_RETRIES")

    webhook_token: str | None = Field(default=None, alias="SLEUTH_WEBHOOK_TOKEN")
    model: str = Field(default="offline", alias="SLEUTH_MODEL")
    model_planner: str | None = Field(default=None, alias="SLEUTH_MODEL_PLANNER")
    model_summariser: str | None = Field(default=None, alias="SLEUTH_MODEL_SUMMARISER")
    model_concluder: str | None = Field(default=None, alias="SLEUTH_MODEL_CONCLUDER")
    data_dir: Path = Field(default=Path("~/.sleuth"), alias="SLEUTH_DATA_DIR")

    max_rounds: int = Field(default=3, alias="SLEUTH_MAX_ROUNDS")
    max_parallel_tests: int = Field(default=8, alias="SLEUTH_MAX_PARALLEL_TESTS")
    max_datadog_calls: int = Field(default=400, alias="SLEUTH_MAX_DATADOG_CALLS")
    max_model_tokens: int = Field(default=200_000, alias="SLEUTH_MAX_MODEL_TOKENS")
    max_cost_usd: float = Field(default=2.0, alias="SLEUTH_MAX_COST_USD")
    deadline_seconds: float = Field(default=600.0, alias="SLEUTH_DEADLINE_SECONDS")
    approval_timeout_seconds: float = Field(default=1800.0, alias="SLEUTH_APPROVAL_TIMEOUT_SECONDS")
    auto_investigation_interval_seconds: float = Field(default=86400.0, alias="SLEUTH_RATE_LIMIT_SECONDS")

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return Path(os.path.expanduser(str(v)))

    @model_validator(mode="after")
    def _client_cert_pairs(self) -> Settings:
        if (self.temporal_tls_client_cert_path is None) != (self.temporal_tls_client_key_path is None):
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together: "
                "set both for mTLS, or neither"
            )
        return self

    @property
    def temporal_access(self) -> TemporalAccess:
        """Credentials for the configured TEMPORAL_ADDRESS; none without one (the embedded or local dev
        server speaks plaintext). As in Temporal's SDKs, an API key or a client certificate turns TLS on
        unless TEMPORAL_TLS=false says otherwise."""
        if not self.temporal_address:
            return TemporalAccess()
        wants_tls = bool(
            self.temporal_api_key
            or self.temporal_tls_client_cert_path
            or self.temporal_tls_server_ca_cert_path
            or self.temporal_tls_server_name
        )
        return TemporalAccess(
            api_key=self.temporal_api_key,
            tls=wants_tls if self.temporal_tls is None else self.temporal_tls,
            client_cert_path=self.temporal_tls_client_cert_path,
            client_key_path=self.temporal_tls_client_key_path,
            server_ca_cert_path=self.temporal_tls_server_ca_cert_path,
            server_name=self.temporal_tls_server_name,
        )

    @property
    def sandbox_mode(self) -> bool:
        """No Datadog keys and no explicit URL: the embedded sandbox Datadog carries the job."""
        return not (self.dd_api_key and self.dd_app_key) and not self.datadog_url

    @property
    def datadog_base_url(self) -> str:
        if self.datadog_url:
            return self.datadog_url.rstrip("/")
        return f"https://api.{self.dd_site}"

    def budget(self) -> Budget:
        return Budget(
            max_rounds=self.max_rounds,
            max_parallel_tests=self.max_parallel_tests,
            max_datadog_calls=self.max_datadog_calls,
            max_model_tokens=self.max_model_tokens,
            max_cost_usd=self.max_cost_usd,
            deadline_seconds=self.deadline_seconds,
            approval_timeout_seconds=self.approval_timeout_seconds,
        )

    def model_for(self, role: str) -> str:
        """Per-role model choice: a cheap model for summarising, a strong one for planning and concluding."""
        override = {
            "planner": self.model_planner,
            "summariser": self.model_summariser,
            "concluder": self.model_concluder,
        }.get(role)
        return override or self.model


def load_settings(**overrides: object) -> Settings:
    settings = Settings()
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
