"""Secret hygiene: a value under a secure, unknown or credential-named key never reaches output.

Every config value in a message or output goes through `stacks.config.redact`; these tests plant
distinctive values under every kind of wrong key and look for them in everything printed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.__main__ import main
from stacks.config import PROVIDER_CREDENTIALS, PROVIDER_SETTINGS, load_config
from stacks.errors import ConfigError
from tests.conftest import ROOT, load_stack

PLANTED = "sk-PLANTED-1234"


def _raw(stack: str) -> tuple[dict[str, Any], set[str]]:
    """The config as `pulumi up` hands it to the program: JSON strings, secrets decrypted."""
    raw, secret = {}, set()
    for key, value in load_stack(stack)["config"].items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            raw[key], secret = "decrypted-" + key, secret | {key}
        else:
            raw[key] = value if isinstance(value, str) else json.dumps(value)
    return raw, secret


def _with(stack: str, key: str, value: Any, *, secure: bool = False, merge: bool = False) -> tuple[dict[str, Any], set[str]]:
    raw, secret = _raw(stack)
    if merge:
        value = {**json.loads(raw[key]), **value}
    raw[key] = value if isinstance(value, str) else json.dumps(value)
    if secure:
        secret.add(key)
    return raw, secret


# (id, raw config with a planted value, the key the message must name)
PLANTED_UNDER_WRONG_KEYS = [
    ("misspelled-api-key", lambda: _with("poc-aws", "llm-platform:mistralApiToken", PLANTED), "llm-platform:mistralApiToken"),
    ("misspelled-api-key-secure", lambda: _with("poc-aws", "llm-platform:mistralApiToken", PLANTED, secure=True), "llm-platform:mistralApiToken"),
    ("secure-region", lambda: _with("poc-aws", "aws:region", PLANTED, secure=True), "aws:region"),
    ("key-under-poc", lambda: _with("poc-aws", "llm-platform:poc", {"apiKey": PLANTED}, merge=True), "llm-platform:poc.apiKey"),
    ("secret-setting-under-poc", lambda: _with("poc-aws", "llm-platform:poc", {"settings": {"password": PLANTED}}, merge=True), "llm-platform:poc.settings"),
    ("secure-known-section", lambda: _with("poc-aws", "llm-platform:budget", PLANTED, secure=True), "llm-platform:budget"),
    ("plain-hugging-face-token", lambda: _with("poc-aws", "llm-platform:huggingFaceToken", PLANTED), "llm-platform:huggingFaceToken"),
    ("aws-secret-key", lambda: _with("poc-aws", "aws:secretKey", PLANTED), "aws:secretKey"),
    ("azure-client-secret", lambda: _with("poc-azure", "azure-native:clientSecret", PLANTED), "azure-native:clientSecret"),
    ("web-identity-token", lambda: _with("poc-aws", "aws:assumeRoleWithWebIdentity", {"roleArn": "arn:aws:iam::123456789012:role/x", "webIdentityToken": PLANTED}), "aws:assumeRoleWithWebIdentity"),
    ("other-namespace-password", lambda: _with("poc-aws", "acme:password", PLANTED), "acme:password"),
    # A credential-named tag is shown redacted when the tags are quoted for another problem.
    ("tag-named-like-a-token", lambda: _with("poc-aws", "llm-platform:tags", {"apiToken": PLANTED, "Phase": "x", "cost-center": "c", "owner": "o"}), "llm-platform:tags"),
]


@pytest.mark.parametrize(("case", "make", "key"), PLANTED_UNDER_WRONG_KEYS, ids=[c[0] for c in PLANTED_UNDER_WRONG_KEYS])
def test_planted_value_is_never_in_a_config_error(case: str, make: Any, key: str) -> None:
    raw, secret_keys = make()
    with pytest.raises(ConfigError) as info:
        load_config(raw, secret_keys)
    message = info.value.render()
    assert key in message
    assert PLANTED not in message and PLANTED not in str(info.value)


@pytest.mark.parametrize("key", [k for k in PROVIDER_CREDENTIALS if "." not in k and k != "kubernetes:kubeconfig"])
def test_plain_cloud_credentials_are_refused(key: str) -> None:
    raw, secret_keys = _with("poc-aws" if key.startswith("aws:") else "poc-azure", key, PLANTED)
    with pytest.raises(ConfigError) as info:
        load_config(raw, secret_keys)
    assert f"{key} = [redacted]: is a credential in plain text" in info.value.render()


def test_a_secure_cloud_credential_is_accepted() -> None:
    raw, secret_keys = _with("poc-aws", "aws:secretKey", PLANTED, secure=True)
    load_config(raw, secret_keys)


def test_kubeconfig_path_is_not_a_credential_but_its_content_is() -> None:
    load_config(*_with("poc-aws", "kubernetes:kubeconfig", "~/.kube/config"))
    with pytest.raises(ConfigError):
        load_config(*_with("poc-aws", "kubernetes:kubeconfig", f"apiVersion: v1\nusers:\n- user: {{token: {PLANTED}}}"))


def _sdk_config_keys(package: str) -> set[str]:
    text = next((ROOT / ".venv" / "lib").glob(f"python3*/site-packages/{package}/config/vars.py")).read_text()
    return set(re.findall(r"__config__\.get\w*\('(\w+)'\)", text))


@pytest.mark.parametrize(("namespace", "package"), [("aws", "pulumi_aws"), ("azure-native", "pulumi_azure_native")])
def test_every_provider_setting_of_the_pinned_sdk_is_classified(namespace: str, package: str) -> None:
    """A provider setting is either shown (PROVIDER_SETTINGS) or a credential: none unclassified."""
    keys = _sdk_config_keys(package)
    credentials = {k.split(":", 1)[1] for k in PROVIDER_CREDENTIALS if k.startswith(f"{namespace}:") and "." not in k}
    assert keys == set(PROVIDER_SETTINGS[namespace]) | credentials
    assert not set(PROVIDER_SETTINGS[namespace]) & credentials


def _stack_file(tmp_path: Path, base: str, extra: dict[str, Any], name: str = "planted") -> Path:
    document = load_stack(base)
    document["config"].update(extra)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


REFUSED_FILES = {
    "misspelled-api-key": {"llm-platform:mistralApiToken": PLANTED},
    "key-under-poc": {"llm-platform:poc": {**load_stack("poc-aws")["config"]["llm-platform:poc"], "apiKey": PLANTED}},
    "aws-secret-key": {"aws:secretKey": PLANTED},
    "unknown-namespace-token": {"acme:token": PLANTED},
    "planted-yaml-syntax-error": {},
}


@pytest.mark.parametrize("command", ["plan", "audit", "cost"])
@pytest.mark.parametrize("case", list(REFUSED_FILES))
def test_planted_value_never_printed_by_commands(command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _stack_file(tmp_path, "poc-aws", REFUSED_FILES[case])
    if case == "planted-yaml-syntax-error":
        # PyYAML quotes the offending line under a caret; the message must not.
        path.write_text(path.read_text() + f"  acme:key: [{PLANTED}\n  acme:other: 1\n")
    assert main([command, str(path)]) == 2
    out = capsys.readouterr()
    assert PLANTED not in out.out + out.err
    assert out.err.startswith("error: ") and out.err.count("\n") == 1


def test_planted_values_never_reach_plan_json_or_audit_or_cost(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Values the program accepts but does not know (another namespace, a secure credential)."""
    path = _stack_file(tmp_path, "poc-aws", {"acme:notes": PLANTED, "aws:secretKey": {"secure": f"v1:{PLANTED}"}})
    assert main(["plan", str(path), "--json"]) == 0
    graph_text = capsys.readouterr().out
    assert PLANTED not in graph_text
    graph = json.loads(graph_text)
    assert graph["config"]["acme:notes"] == "[redacted]" and graph["config"]["aws:secretKey"] == "[secret]"
    graph_file = tmp_path / "graph.json"
    graph_file.write_text(graph_text)
    for command in (["audit", "--plan", str(graph_file)], ["cost", "--plan", str(graph_file)]):
        main(command)
        out = capsys.readouterr()
        assert PLANTED not in out.out + out.err
