"""deploy/k8s validated offline: core kinds against the Kubernetes schemas (kubernetes-validate,
strict: unknown fields refused), the Prometheus Operator's kinds against its CRD models."""

from __future__ import annotations

import copy
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
#: The oldest Kubernetes still supported upstream when these manifests were written.
KUBERNETES_VERSION = "1.31"
OPERATOR_API = "monitoring.coreos.com/v1"


def manifests() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def model_schema(kind: str, cache: pytest.Cache | None) -> dict[str, Any]:
    """The CRD model's JSON schema. Importing the models builds some 4,000 pydantic classes
    (2.5 s of CPU), so the schema is kept in pytest's cache under the versions it comes from."""
    key = "relais/operator-schema/{}/{}/{}".format(
        version("cloudcoil-models-prometheus-operator"), version("pydantic"), kind
    )
    schema: dict[str, Any] | None = cache.get(key, None) if cache else None
    if schema is None:
        from cloudcoil.models.prometheus_operator import v1

        schema = getattr(v1, kind).model_json_schema(by_alias=True)
        if cache:
            cache.set(key, schema)
    return schema


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema made strict: an object refuses fields it does not know."""

    def forbid_unknown(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                forbid_unknown(value)
        elif isinstance(node, list):
            for value in node:
                forbid_unknown(value)

    schema = copy.deepcopy(schema)
    forbid_unknown(schema)
    return schema


Validate = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def validate(pytestconfig: pytest.Config) -> Validate:
    cache = getattr(pytestconfig, "cache", None)  # None under -p no:cacheprovider
    operator: dict[str, jsonschema.Draft202012Validator] = {}

    def validate(doc: dict[str, Any]) -> None:
        if doc["apiVersion"] == OPERATOR_API:
            kind = doc["kind"]
            if kind not in operator:
                # Not jsonschema.validate: it checks the schema first, and one Go pattern of
                # the CRD ('^(?i)(abort|warn)?$') is not a Python regex.
                operator[kind] = jsonschema.Draft202012Validator(strict(model_schema(kind, cache)))
            operator[kind].validate(doc)
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    return validate


@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_validates_against_the_kubernetes_and_operator_schemas(
    path: Path, validate: Validate
) -> None:
    docs = documents(path)
    assert docs
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("Deployment", ["spec", "template", "spec", "containers", 0, "readinesProbe"], {}),
        ("Ingress", ["spec", "tls", 0, "secret"], "relais-tls"),
        ("ServiceMonitor", ["spec", "endpoints", 0, "honorLabel"], True),
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0, "expresion"], "up == 0"),
    ],
)
def test_a_misspelt_field_is_refused(
    kind: str, path: list[Any], value: Any, validate: Validate
) -> None:
    [doc] = [d for p in manifests() for d in documents(p) if d["kind"] == kind][:1]
    broken = copy.deepcopy(doc)
    node: Any = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_the_kustomizations_list_every_manifest_once() -> None:
    listed: list[Path] = []
    for kustomization in K8S.rglob("kustomization.yaml"):
        resources = yaml.safe_load(kustomization.read_text())["resources"]
        listed += [(kustomization.parent / r).resolve() for r in resources]
    assert len(listed) == len(set(listed))
    assert all(p.exists() for p in listed)
    # Templates with secrets stay out, filled in and applied by hand.
    assert set(manifests()) - set(listed) == {K8S / "secrets.example.yaml"}


OPS = {"/health", "/ready", "/metrics"}


def web_prefixes() -> set[str]:
    """The first segment of every path the web pages serve (FastAPI's included routers)."""
    from relais_web.config import WebSettings
    from relais_web.main import create_app

    def paths(routes: list[Any], prefix: str = "") -> list[str]:
        found = []
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                found += paths(inner.routes, prefix + (route.include_context.prefix or ""))
            elif hasattr(route, "path"):
                found.append(prefix + route.path)
        return found

    app = create_app(WebSettings(env="test"))
    return {"/" + p.lstrip("/").split("/")[0] for p in paths(app.routes)} - {"/"}


def test_the_ingress_serves_each_service_over_tls_and_keeps_ops_endpoints_inside() -> None:
    [ingress] = documents(K8S / "ingress.yaml")
    services = {
        d["metadata"]["name"] for p in manifests() for d in documents(p) if d["kind"] == "Service"
    }
    tls_hosts = {h for entry in ingress["spec"]["tls"] for h in entry["hosts"]}
    backends = set()
    web_paths = set()
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]["name"]
            backends.add(backend)
            assert path["path"] not in OPS
            if path["path"] == "/":
                # The web's home page only: "/" as a prefix would publish /metrics too.
                assert (backend, path["pathType"]) == ("web", "Exact")
            if backend == "web":
                web_paths.add(path["path"])
    assert backends == services == {"referral", "parcours", "notifications", "reporting", "web"}
    # Every page of the web is reachable (a new one must be routed here), its ops are not.
    assert web_paths - {"/"} == web_prefixes() - OPS


def test_the_dev_openid_provider_is_never_deployed() -> None:
    """Neither Kubernetes nor compose runs relais_web.devidp (relais-dev-idp)."""
    for path in [*K8S.rglob("*.yaml"), ROOT / "deploy" / "compose.yaml"]:
        text = path.read_text()
        assert "devidp" not in text, path
        assert "dev-idp" not in text, path


def test_the_service_monitor_scrapes_the_services_port_and_keeps_their_labels() -> None:
    [monitor] = documents(K8S / "monitoring" / "servicemonitor.yaml")
    services = [d for p in manifests() for d in documents(p) if d["kind"] == "Service"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    for service in services:
        assert selector.items() <= service["metadata"]["labels"].items()
        ports = {port["name"] for port in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] in {
            "referral",
            "parcours",
            "notifications",
            "reporting",
            "web",
        }
    assert all(e["honorLabels"] for e in monitor["spec"]["endpoints"])
