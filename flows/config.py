"""The run configuration (YAML) and the process settings (environment)."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_INTAKE_QUESTION = "How did you hear about us?"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class ConfigError(Exception):
    """A configuration problem the user must fix; the message says where and what."""


class Settings(BaseSettings):
    """Process-level settings from the environment (or a `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="REFNET_", env_file=".env", extra="ignore")

    home: Path | None = None
    # Overrides the config's `runner.kind` (e.g. REFNET_RUNNER=dask for one run).
    runner: Literal["threads", "dask"] | None = None
    # Keys the HMAC that turns patient ids into patient_key; rotating it re-keys every patient.
    pseudonym_secret: SecretStr | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClinikoSource(_Strict):
    name: str
    kind: Literal["cliniko"]
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    base_url: str | None = None
    contact_email: str
    requests_per_minute: Annotated[int, Field(ge=1, le=6000)] = 200
    intake_question: str = DEFAULT_INTAKE_QUESTION

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("must be lower-case letters, digits, '-' or '_' (it names folders)")
        return v

    @field_validator("contact_email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not _EMAIL.match(v):
            raise ValueError("must be an e-mail address (Cliniko requires one in the User-Agent)")
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://", v):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/") if v else v

    def resolve_api_key(self) -> str:
        """The key from `api_key` or from the variable `api_key_env` names."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if not self.api_key_env:
            raise ConfigError(f"source '{self.name}': set api_key_env (or api_key)")
        value = os.environ.get(self.api_key_env, "").strip()
        if not value:
            raise ConfigError(
                f"source '{self.name}': environment variable {self.api_key_env} is not set; "
                "export it with the clinic's Cliniko API key"
            )
        return value

    def resolve_base_url(self, api_key: str) -> str:
        """Cliniko keys end in their shard (`...-uk1`); keys without one belong to au1."""
        if self.base_url:
            return self.base_url
        match = re.search(r"-([a-z]{2}\d+)$", api_key)
        shard = match.group(1) if match else "au1"
        return f"https://api.{shard}.cliniko.com/v1"


class GateConfig(_Strict):
    """Thresholds of the configurable gate checks (expectations/ holds the checks themselves)."""

    # Block when a mart has fewer rows than (1 - this share) of the last published run's.
    max_row_drop: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Block when a source's last committed extraction (state/ cursors) is older than this.
    max_source_age_hours: Annotated[float, Field(gt=0)] = 36.0
    # Warn when more than this share of referrals has no attributed partner.
    max_unknown_share: Annotated[float, Field(ge=0, le=1)] = 0.4


def _env_name(v: str | None) -> str | None:
    if v is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
        raise ValueError("must be the name of an environment variable, not its value")
    return v


class Schedule(_Strict):
    """When `refnet serve` runs the nightly flow."""

    cron: str = "0 2 * * *"
    # The clinic's IANA time zone, so 02:00 stays 02:00 across daylight-saving changes.
    timezone: str = "UTC"

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        # Prefect's own parser, so what passes here is what the deployment accepts; imported
        # only when a cron is given (importing prefect costs seconds).
        from prefect._vendor.croniter import croniter

        if len(v.split()) != 5 or not croniter.is_valid(v):
            raise ValueError(f"'{v}' is not a 5-field cron expression (e.g. '0 2 * * *')")
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{v}' is not an IANA time zone (e.g. 'Europe/London')") from None
        return v


class SecretRef(_Strict):
    """Where a secret lives: an environment variable or a Prefect Secret block, never the file."""

    env: str | None = None
    block: str | None = None

    @field_validator("env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        return _env_name(v)

    @model_validator(mode="after")
    def _one_place(self) -> SecretRef:
        if (self.env is None) == (self.block is None):
            raise ValueError("give exactly one of env (a variable name) or block (a Secret block)")
        return self

    def resolve(self) -> str:
        """The secret's value; ConfigError (naming where it was looked for) when it is missing."""
        if self.env:
            value = os.environ.get(self.env, "").strip()
            if not value:
                raise ConfigError(f"environment variable {self.env} is not set")
            return value
        if self.block:
            from prefect.blocks.system import Secret

            try:
                value = Secret.load(self.block).get()
            except ValueError as exc:
                raise ConfigError(f"Prefect Secret block '{self.block}': {exc}") from None
            return str(value)
        raise ConfigError("set env (an environment variable name) or block (a Secret block name)")


class SmtpAlerts(_Strict):
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretRef | None = None
    sender: str = Field(alias="from")
    to: Annotated[list[str], Field(min_length=1)]

    @field_validator("sender")
    @classmethod
    def _sender(cls, v: str) -> str:
        if not _EMAIL.match(v):
            raise ValueError("must be an e-mail address")
        return v

    @field_validator("to")
    @classmethod
    def _recipients(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not _EMAIL.match(a)]
        if bad:
            raise ValueError(f"not e-mail addresses: {', '.join(bad)}")
        return v


class Alerts(_Strict):
    """Who hears about a run that did not publish (and, if asked, about every run)."""

    # The webhook URL is itself a credential (Slack/Teams URLs carry their token).
    webhook: SecretRef | None = None
    smtp: SmtpAlerts | None = None
    on: Annotated[list[Literal["failed", "blocked", "published"]], Field(min_length=1)] = [
        "failed",
        "blocked",
    ]
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0


class Runner(_Strict):
    """Where the extraction tasks (one per source account, concurrently) run."""

    # threads: in this process. dask: on a Dask cluster, `address` if given (an existing
    # scheduler, e.g. tcp://10.0.0.5:8786), else a LocalCluster of `workers` processes.
    kind: Literal["threads", "dask"] = "threads"
    address: str | None = None
    workers: Annotated[int, Field(ge=1, le=256)] = 2
    # Accounts extracted at once (threads); a Dask cluster runs as many as it has workers.
    max_concurrent: Annotated[int, Field(ge=1, le=256)] = 8

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(tcp|tls|inproc|ucx)://", v):
            raise ValueError("must be a Dask scheduler address such as tcp://host:8786")
        return v


class Config(_Strict):
    sources: Annotated[list[ClinikoSource], Field(min_length=1)]
    runner: Runner = Runner()
    gate: GateConfig = GateConfig()
    partners: Path | None = None
    schedule: Schedule = Schedule()
    alerts: Alerts | None = None
    # Day the funnel windows are judged against; unset means today (UTC).
    as_of: date | None = None
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, v: list[ClinikoSource]) -> list[ClinikoSource]:
        names = [s.name for s in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return v

    def partners_path(self) -> Path | None:
        if self.partners is None:
            return None
        if self.partners.is_absolute() or self.path is None:
            return self.partners
        return self.path.parent / self.partners


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice (plain YAML keeps the last, silently)."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' appears twice", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def read_yaml(path: Path, what: str) -> object:
    """Parse a YAML file; every way it can be unreadable becomes a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save the {what} as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValueError as exc:  # an impossible date such as 2026-02-30
        raise ConfigError(f"{path}: invalid value: {exc}") from None


def load_config(path: Path) -> Config:
    """Read and validate a config file; every problem is reported with the key that causes it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    data = read_yaml(path, "configuration")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a 'sources' list at the top level")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: invalid configuration"]
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (check its spelling)"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"  {_location(err['loc'])}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    config = config.model_copy(update={"path": path.resolve()})
    partners = config.partners_path()
    if partners is not None and not partners.is_file():
        raise ConfigError(f"{path}: partners: file not found: {partners}")
    return config


def resolve_home(home: Path | None) -> Path:
    """`--home`, else `$REFNET_HOME`, else `.refnet/` in the working directory."""
    if home is None:
        home = Settings().home or Path(".refnet")
    return Path(home).resolve()
