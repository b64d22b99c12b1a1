"""The README's webhook section shows every webhook operation the API offers its owner.

Run as written, its commands reach real routes; and a route an institution needs (to see
that its endpoint was disabled, to re-enable it) can't be added without the README
saying how to call it.
"""

from __future__ import annotations

import re
from pathlib import Path

from relais_notifications.entrypoints.http_webhooks import router

README = Path(__file__).resolve().parents[1] / "README.md"
NOTIFICATIONS = "http://127.0.0.1:8003"


def readme_calls() -> set[tuple[str, str]]:
    """(method, path template) of every curl to the notifications service in the README."""
    text = README.read_text().replace("\\\n", " ")
    calls: set[tuple[str, str]] = set()
    for line in text.splitlines():
        if "curl " not in line or NOTIFICATIONS not in line:
            continue
        method = re.search(r"-X (\w+)", line)
        path = line.split(NOTIFICATIONS, 1)[1].split()[0].strip("'\")")
        # Ids in the README are shell variables ($HOOK) or placeholders (<id>).
        template = re.sub(r"/(\$\w+|<\w+>)", "/{webhook_id}", path)
        calls.add((method.group(1) if method else "GET", template))
    return calls


def test_the_readme_shows_every_webhook_route_and_only_real_ones() -> None:
    routes = {
        (method, route.path)
        for route in router.routes
        for method in getattr(route, "methods", ())
        if route.path.startswith("/v1/webhooks")
    }
    shown = {call for call in readme_calls() if call[1].startswith("/v1/webhooks")}
    assert routes - shown == set(), "README.md, 'Hear back by webhook': show these routes"
    assert shown - routes == set(), "README.md calls webhook routes that do not exist"
