"""The alert rules, their promtool tests, the PrometheusRule copy and the Grafana dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
RULES = MONITORING / "relais.rules.yml"
RULE_TESTS = MONITORING / "relais.rules.test.yml"
PROMETHEUS_RULE = ROOT / "deploy" / "k8s" / "monitoring" / "prometheusrule.yaml"
DASHBOARD = MONITORING / "grafana" / "relais-dashboard.json"

# Prometheus' own series and functions' words that look like names in an expression.
_NOT_OURS = {"up"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool is missing: scripts/lib.sh ensure_tools installs it (prometheus)")
    return subprocess.run(
        [exe, *args], cwd=MONITORING, capture_output=True, text=True, timeout=120, check=False
    )


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alerts(groups: dict[str, Any]) -> list[dict[str, Any]]:
    return [rule for group in groups["groups"] for rule in group["rules"] if "alert" in rule]


def exported_metric_names() -> set[str]:
    """Every sample name the four services can put on GET /metrics."""
    # Importing the modules registers their metrics.
    import relais_notifications.service.dispatch  # noqa: F401
    import relais_parcours.service.deadlines  # noqa: F401
    import relais_runtime.metrics  # noqa: F401

    names: set[str] = set()
    for family in REGISTRY.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names.update(family.name + s for s in suffixes.get(family.type, [""]))
    return names


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\brelais_[a-z_]+\b", expr))


def test_the_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = promtool("check", "rules", RULES.name)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", RULE_TESTS.name)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_rule_test_that_fires_it_and_one_that_does_not() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in load(RULE_TESTS)["tests"]:
        for check in case["alert_rule_test"]:
            (fired if check["exp_alerts"] else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in alerts(load(RULES))}
    assert len(names) >= 5
    assert names == fired
    assert names == quiet


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    for rule in alerts(load(RULES)):
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_the_rules_and_the_dashboard_read_only_metrics_the_services_export() -> None:
    exported = exported_metric_names()
    in_rules = {n for rule in alerts(load(RULES)) for n in metric_names(rule["expr"])}
    dashboard = json.loads(DASHBOARD.read_text())
    in_dashboard = {
        n
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for n in metric_names(target["expr"])
    }
    assert in_rules
    assert in_dashboard
    assert in_rules - exported == set()
    assert in_dashboard - exported == set()
    # Every figure an alert watches is on the dashboard too.
    assert in_rules <= in_dashboard


def test_the_dashboard_is_importable_grafana_json_with_unique_panel_ids() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_the_prometheus_rule_for_kubernetes_carries_the_same_groups() -> None:
    assert load(PROMETHEUS_RULE)["spec"] == load(RULES)
