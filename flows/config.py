"""The run configuration (YAML) and the process settings (environment)."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
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
    # DuckDB's cap for dbt's builds (profiles.yml reads it), e.g. 1536MB or 4GB.
    duckdb_memory_limit: str | None = None

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _memory(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", v.strip(), re.I):
            raise ValueError("must be an amount of memory DuckDB reads, such as 1536MB or 4GB")
        return v.strip() if v else v


def settings() -> Settings:
    """The process settings; a bad environment value is named by its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = ["invalid environment setting"]
        for err in exc.errors():
            lines.append(f"  REFNET_{str(err['loc'][0]).upper()}: {_plain(err)}")
        raise ConfigError("\n".join(lines)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClinikoSource(_Strict):
    name: str
    kind: Literal["cliniko"]
    api_key_env: str | None = None
    api_key: SecretStr | None = None
    base_url: str | None = None
    contact_email: str
    requests_per_minute: Annotated[int, Field(strict=True, ge=1, le=6000)] = 200
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

    @field_validator("api_key_env")
    @classmethod
    def _key_env_is_a_name(cls, v: str | None) -> str | None:
        return _env_name(v)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return _http_url(v).rstrip("/") if v is not None else v

    @field_validator("api_key")
    @classmethod
    def _key_not_blank(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().strip():
            raise ValueError("is empty; set the key, or remove api_key and use api_key_env")
        return v

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

    def provides_referrals(self) -> bool:
        return True  # patient cases

    def resolve_secrets(self) -> list[str]:
        """Every secret the source needs (checked by `config check`, scrubbed from messages)."""
        return [self.resolve_api_key()]

    def resolve_base_url(self, api_key: str) -> str:
        """Cliniko keys end in their shard (`...-uk1`); keys without one belong to au1."""
        if self.base_url:
            return self.base_url
        match = re.search(r"-([a-z]{2}\d+)$", api_key)
        shard = match.group(1) if match else "au1"
        return f"https://api.{shard}.cliniko.com/v1"


def _env_value(source: str, variable: str, what: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"source '{source}': environment variable {variable} is not set; export it with {what}"
        )
    return value


class BearerAuth(_Strict):
    """A fixed access token, sent as `Authorization: Bearer <token>`."""

    kind: Literal["bearer"]
    token_env: str

    @field_validator("token_env")
    @classmethod
    def _env(cls, v: str) -> str:
        return _env_name(v) or v


class ClientCredentialsAuth(_Strict):
    """OAuth2 client credentials (SMART backend services style without JWT assertion): a token
    is fetched from `token_url`, and fetched again when it expires or the server answers 401."""

    kind: Literal["client_credentials"]
    token_url: str
    client_id: str
    client_secret_env: str
    scope: str | None = None

    @field_validator("token_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v)

    @field_validator("client_secret_env")
    @classmethod
    def _env(cls, v: str) -> str:
        return _env_name(v) or v


class NoAuth(_Strict):
    """An open server (public test servers); real clinical servers always need credentials."""

    kind: Literal["none"]


class FhirSource(_Strict):
    """A FHIR R4 server (docs/contracts.md "FHIR world conventions")."""

    name: str
    kind: Literal["fhir"]
    base_url: str
    auth: Annotated[BearerAuth | ClientCredentialsAuth | NoAuth, Field(discriminator="kind")]
    contact_email: str
    requests_per_minute: Annotated[int, Field(strict=True, ge=1, le=6000)] = 300
    page_size: Annotated[int, Field(strict=True, ge=1, le=1000)] = 100  # `_count`
    max_pages: Annotated[int, Field(strict=True, ge=1)] = 100_000
    # Resource types to read; default every type refnet maps (flows/fhir.STREAMS).
    resources: list[str] | None = None
    # The intake question: the QuestionnaireResponse item with this linkId, else the item whose
    # text is `intake_question` (case-insensitive).
    intake_link_id: str | None = None
    intake_question: str = DEFAULT_INTAKE_QUESTION
    # Time zone of clinics (Locations) that carry no timezone extension.
    time_zone: str = "UTC"

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        return ClinikoSource._name_is_slug(v)

    @field_validator("contact_email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not _EMAIL.match(v):
            raise ValueError("must be an e-mail address (it goes into the User-Agent)")
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _http_url(v).rstrip("/")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return iana_zone(v)

    @field_validator("resources")
    @classmethod
    def _known(cls, v: list[str] | None) -> list[str] | None:
        from flows.fhir import STREAMS_BY_TYPE

        if v is not None:
            unknown = [r for r in v if r not in STREAMS_BY_TYPE]
            if unknown:
                known = ", ".join(STREAMS_BY_TYPE)
                raise ValueError(f"unknown resource types {unknown}; refnet reads {known}")
        return v

    def provides_referrals(self) -> bool:
        return self.resources is None or "ServiceRequest" in self.resources

    def resolve_secrets(self) -> list[str]:
        if isinstance(self.auth, BearerAuth):
            return [_env_value(self.name, self.auth.token_env, "the FHIR server's access token")]
        if isinstance(self.auth, ClientCredentialsAuth):
            return [_env_value(self.name, self.auth.client_secret_env, "the OAuth2 client secret")]
        return []


class CsvFiles(_Strict):
    """Per export type, a file or a glob (relative to the configuration file)."""

    appointments: Annotated[str, Field(min_length=1)] | None = None
    patients: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _something(self) -> CsvFiles:
        if self.appointments is None and self.patients is None:
            raise ValueError("give the appointments and/or patients export (a path or a glob)")
        return self

    def items(self) -> list[tuple[str, str]]:
        return [
            (k, v)
            for k, v in (("appointments", self.appointments), ("patients", self.patients))
            if v
        ]


class CsvSource(_Strict):
    """Spreadsheet exports of a practice-management system without an API."""

    name: str
    kind: Literal["csv"]
    files: CsvFiles
    # The YAML that maps export columns to canonical fields (relative to the configuration).
    mapping: Path
    # The clinic's IANA zone: times written without an offset are wall-clock times there.
    time_zone: str
    # The clinic's name in the report when the export has no clinic column (default: `name`).
    clinic_name: str | None = None
    # More unparseable rows than this share of a file means the mapping does not fit the export:
    # the file is refused whole (nothing landed) instead of quarantined row by row.
    max_quarantined_share: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.5

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        return ClinikoSource._name_is_slug(v)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        return iana_zone(v)

    def provides_referrals(self) -> bool:
        return False  # exports carry appointments and patients only

    def resolve_secrets(self) -> list[str]:
        return []  # files on disk: no credential

    def resolved(self, base: Path) -> CsvSource:
        """Relative paths made absolute against the configuration file's folder."""
        mapping = self.mapping if self.mapping.is_absolute() else base / self.mapping
        files = {k: v if Path(v).is_absolute() else str(base / v) for k, v in self.files.items()}
        return self.model_copy(update={"mapping": mapping, "files": CsvFiles(**files)})


Source = Annotated[ClinikoSource | FhirSource | CsvSource, Field(discriminator="kind")]


class GateConfig(_Strict):
    """Thresholds of the configurable gate checks (expectations/ holds the checks themselves)."""

    # Block when a mart has fewer rows than (1 - this share) of the last published run's.
    max_row_drop: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.5
    # Block when a source's last committed extraction (state/ cursors) is older than this.
    max_source_age_hours: Annotated[float, Field(strict=True, gt=0)] = 36.0
    # Warn when more than this share of referrals has no attributed partner.
    max_unknown_share: Annotated[float, Field(strict=True, ge=0, le=1)] = 0.4


def _http_url(v: str) -> str:
    if not re.match(r"^https?://", v):
        raise ValueError("must start with http:// or https://")
    try:
        host = urlsplit(v).hostname
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if not host or re.search(r"\s", v):
        raise ValueError("must be a full URL with a host name and no spaces")
    return v


@functools.cache
def _warehouse_zones() -> frozenset[str]:
    import duckdb

    con = duckdb.connect()
    try:
        return frozenset(
            r[0] for r in con.execute("select name from pg_timezone_names()").fetchall()
        )
    finally:
        con.close()


def iana_zone(v: str) -> str:
    # Python alone accepts host aliases such as `localtime`; the warehouse (DuckDB) and Prefect's
    # schedules do not, so a zone must be known to both.
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{v}' is not an IANA time zone (e.g. 'Europe/London')") from None
    if v not in _warehouse_zones() or v in ("localtime", "posixrules", "Factory"):
        raise ValueError(f"'{v}' is not an IANA time zone name (e.g. 'Europe/London')")
    return v


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
        return iana_zone(v)


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
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 587
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
    timeout_seconds: Annotated[float, Field(strict=True, gt=0, le=120)] = 10.0


class Runner(_Strict):
    """Where the extraction tasks (one per source account, concurrently) run."""

    # threads: in this process. dask: on a Dask cluster, `address` if given (an existing
    # scheduler, e.g. tcp://10.0.0.5:8786), else a LocalCluster of `workers` processes.
    kind: Literal["threads", "dask"] = "threads"
    address: str | None = None
    workers: Annotated[int, Field(strict=True, ge=1, le=256)] = 2
    # Accounts extracted at once (threads); a Dask cluster runs as many as it has workers.
    max_concurrent: Annotated[int, Field(strict=True, ge=1, le=256)] = 8

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^(tcp|tls|inproc|ucx)://", v):
            raise ValueError("must be a Dask scheduler address such as tcp://host:8786")
        return v


class Config(_Strict):
    sources: Annotated[list[Source], Field(min_length=1)]
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
    def _unique_names(cls, v: list[Source]) -> list[Source]:
        names = [s.name for s in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return v

    def referral_sources(self) -> list[str]:
        """The sources that provide referrals; none means an appointments-only site."""
        return [s.name for s in self.sources if s.provides_referrals()]

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


def _plain(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (check its spelling)"
    if err["type"] == "missing":
        return "required key is missing"
    return err["msg"].removeprefix("Value error, ")


def invalid_file(
    path: Path, what: str, exc: ValidationError, where: Callable[[tuple], str] = _location
) -> ConfigError:
    """One line per problem, each naming its key, in words a clinic's admin can act on."""
    lines = [f"{path}: invalid {what}"]
    lines += [f"  {where(tuple(err['loc']))}: {_plain(err)}" for err in exc.errors()]
    return ConfigError("\n".join(lines))


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
    alerts = data.get("alerts")
    if isinstance(alerts, dict) and True in alerts and "on" not in alerts:
        # YAML 1.1 reads a bare `on:` key as the boolean true.
        alerts["on"] = alerts.pop(True)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise invalid_file(path, "configuration", exc) from None
    config = config.model_copy(update={"path": path.resolve()})
    settings()  # the environment's overrides (REFNET_RUNNER, ...) are checked with the file
    config = _with_csv_mappings(config, path)
    partners = config.partners_path()
    if partners is not None and not partners.is_file():
        raise ConfigError(f"{path}: partners: file not found: {partners}")
    return config


def _with_csv_mappings(config: Config, path: Path) -> Config:
    """CSV sources with absolute paths, their mapping files checked now (not at 02:00)."""
    # Imported here: the mapping module builds on this one's ConfigError and read_yaml.
    from flows.csv_mapping import load_mapping

    sources = []
    for i, source in enumerate(config.sources):
        if isinstance(source, CsvSource):
            source = source.resolved(path.resolve().parent)
            where = f"{path}: sources[{i}] ({source.name})"
            mapping = load_mapping(source.mapping)
            for export_type, _ in source.files.items():
                if mapping.section(export_type) is None:
                    raise ConfigError(
                        f"{where}: files.{export_type} is given but the mapping "
                        f"{source.mapping} has no '{export_type}' section"
                    )
        sources.append(source)
    return config.model_copy(update={"sources": sources})


# `s3://bucket/x` as a Path is `s3:/bucket/x`: a scheme, a colon and a slash.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+")


def resolve_home(home: Path | None) -> Path:
    """`--home`, else `$REFNET_HOME`, else `.refnet/` in the working directory."""
    if home is None:
        home = settings().home or Path(".refnet")
    url = _URL.match(str(home))
    if url:
        # Locks, DuckDB files, Prefect's database and the site need a local file system.
        shown = _URL.sub(f"{url.group(1)}://", str(home), count=1)
        raise ConfigError(
            f"the data directory must be a local folder, not {shown}; give a local path "
            "(to keep the data on object storage, mount the bucket and give the mount's path)"
        )
    return Path(home).resolve()
