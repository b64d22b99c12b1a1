"""The layers of parcours: routes translate HTTP and reach the database only through use cases."""

from __future__ import annotations

import ast
from pathlib import Path

import relais_parcours.entrypoints

ENTRYPOINTS = Path(relais_parcours.entrypoints.__file__).parent


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return names


def _reaches_adapters(path: Path) -> list[str]:
    return sorted(
        n
        for n in _imported(path)
        if n == "relais_parcours.adapters" or n.startswith("relais_parcours.adapters.")
    )


def test_no_entrypoint_imports_the_adapters() -> None:
    modules = sorted(ENTRYPOINTS.glob("*.py"))
    assert len(modules) > 5  # the folder was found
    offenders = {p.name: found for p in modules if (found := _reaches_adapters(p))}
    assert offenders == {}, "entrypoints reach adapters; go through a service/ use case"


def test_no_route_module_opens_a_transaction_of_its_own() -> None:
    routes = sorted(ENTRYPOINTS.glob("http*.py"))
    opening = {
        p.name: found
        for p in routes
        if (
            found := sorted(
                n
                for n in _imported(p)
                if n == "relais_runtime.db" or n.startswith("relais_runtime.db.")
            )
        )
    }
    assert opening == {}, "routes open transactions; a use case in service/ does"


def test_the_check_sees_every_way_of_importing_an_adapter(tmp_path: Path) -> None:
    for line in (
        "from relais_parcours.adapters import handovers_repo",
        "from relais_parcours.adapters.vault import IdentityUnreadableError",
        "import relais_parcours.adapters.directory as store",
        "from relais_parcours import adapters",
    ):
        module = tmp_path / "route.py"
        module.write_text(line + "\n", encoding="utf-8")
        assert _reaches_adapters(module), line
