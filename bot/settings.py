"""Configuration from the environment (and `.env`), validated once at start.

Every variable is listed in the README's configuration table. A bad value stops the start with
one clear line (`SettingsError`), never a traceback, and never prints a token.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from conversations.uploads import KNOWN_TYPES, TELEGRAM_DOWNLOAD_CAP, UploadLimits

TELEGRAM_TOKEN = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,100}$")
ZALO_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{6,200}$")


class SettingsError(ValueError):
    """Configuration that cannot start the bot, as one line naming the variable."""


def _check_url(value: str, name: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"{name} phải là URL http(s)://…")
    return value.rstrip("/")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    baocao_database_url: str = "sqlite:///baocao.db"
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_bot_username: str | None = None
    zalo_bot_token: SecretStr | None = None
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com"
    baocao_webhook_url: str | None = None
    baocao_webhook_secret: SecretStr | None = None
    baocao_http_host: str = "127.0.0.1"
    baocao_http_port: int = Field(default=8080, ge=0, le=65535)
    baocao_public_url: str | None = None
    baocao_invite_days: int = Field(default=30, ge=1, le=365)
    baocao_send_rate: float = Field(default=25.0, gt=0)
    baocao_chat_interval: float = Field(default=1.0, ge=0)
    baocao_outbox_useful_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    baocao_zalo_monthly_cap: int = Field(default=3000, ge=1)
    baocao_scheduler: bool = True
    # Signed reports sent back: stored as files under this folder, their types and size cap.
    baocao_data_dir: str = "data"
    baocao_upload_max_mb: float = Field(default=20, gt=0, le=TELEGRAM_DOWNLOAD_CAP / 1024 / 1024)
    baocao_upload_types: str = "pdf,doc,docx,jpg,jpeg,png"
    baocao_web_session_hours: int = Field(default=12, ge=1, le=720)
    # Running for years: /metrics, log format, how long delivered payloads and update ids stay.
    baocao_metrics: bool = False
    baocao_log_format: Literal["text", "json"] = "text"
    baocao_retention_days: int = Field(default=400, ge=1, le=36500)

    @field_validator("baocao_upload_types")
    @classmethod
    def _upload_types(cls, value: str) -> str:
        kinds = [kind.strip().lower().lstrip(".") for kind in value.split(",") if kind.strip()]
        unknown = [kind for kind in kinds if kind not in KNOWN_TYPES]
        if not kinds or unknown:
            raise ValueError(
                f"chỉ dùng các loại {', '.join(KNOWN_TYPES)} (không biết: {', '.join(unknown)})"
            )
        return ",".join(kinds)

    @property
    def upload_limits(self) -> UploadLimits:
        return UploadLimits(
            max_bytes=int(self.baocao_upload_max_mb * 1024 * 1024),
            extensions=tuple(self.baocao_upload_types.split(",")),
        )

    @field_validator("telegram_bot_token", "zalo_bot_token", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_bot_token")
    @classmethod
    def _telegram_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TELEGRAM_TOKEN.match(value.get_secret_value()):
            raise ValueError(
                "TELEGRAM_BOT_TOKEN không đúng dạng 123456789:ABC… (lấy từ @BotFather)"
            )
        return value

    @field_validator("zalo_bot_token")
    @classmethod
    def _zalo_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not ZALO_TOKEN.match(value.get_secret_value()):
            raise ValueError("ZALO_BOT_TOKEN không đúng dạng <bot_id>:<secret>")
        return value

    @field_validator("telegram_api_base_url", "zalo_api_base_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_url(value, "URL máy chủ API")

    @field_validator("baocao_webhook_url", "baocao_public_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return _check_url(value, "URL") if value else None

    @field_validator("baocao_webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"[A-Za-z0-9_-]{8,256}", value.get_secret_value()
        ):
            raise ValueError("BAOCAO_WEBHOOK_SECRET: 8–256 ký tự A-Z a-z 0-9 _ -")
        return value

    @property
    def public_url(self) -> str:
        if self.baocao_public_url:
            return self.baocao_public_url
        return f"http://{self.baocao_http_host}:{self.baocao_http_port}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper()
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"cấu hình sai ở {name}: {message}") from None
