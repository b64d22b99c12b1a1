"""``relais openapi export|check``: the services' OpenAPI documents under ``docs/openapi/``.

Each service's app is built as in production (``relais_<name>.main:create_app``) but never
started: no database, broker or key is needed. Its key directories point at a throw-away
folder, since building an app may create a development key.
"""

from __future__ import annotations

import importlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from relais_runtime.devstack import SERVICES, ServiceSpec

app = typer.Typer(
    help="Documents OpenAPI des services (docs/openapi/<service>.json) : export, check.",
    no_args_is_help=True,
)

DEFAULT_OUT = Path("docs/openapi")
EXPORT_COMMAND = "uv run relais openapi export"

Out = Annotated[Path, typer.Option("--out", help="Dossier des documents.")]


@contextmanager
def _quiet_environment(spec: ServiceSpec, scratch: Path) -> Iterator[None]:
    overrides = {f"{spec.env_prefix}KEYS_DIR": str(scratch), "RELAIS_LOG_LEVEL": "ERROR"}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def service_document(spec: ServiceSpec) -> dict[str, Any]:
    """The OpenAPI document of one service, as its app serves it at ``/openapi.json``."""
    module_name, _, factory_name = spec.app.partition(":")
    with tempfile.TemporaryDirectory() as scratch, _quiet_environment(spec, Path(scratch)):
        factory = getattr(importlib.import_module(module_name), factory_name)
        document: dict[str, Any] = factory().openapi()
    return document


def render() -> dict[str, str]:
    """File name -> content, for the four services."""
    return {
        f"{spec.name}.json": json.dumps(service_document(spec), indent=2, ensure_ascii=False) + "\n"
        for spec in SERVICES
    }


def differences(out: Path) -> list[str]:
    """Why the files in ``out`` differ from the services' documents (empty: up to date)."""
    problems = []
    for name, content in render().items():
        path = out / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{path}: out of date")
    return problems


@app.command("export")
def export_command(out: Out = DEFAULT_OUT) -> None:
    """Écrire les documents OpenAPI des quatre services."""
    out.mkdir(parents=True, exist_ok=True)
    for name, content in render().items():
        path = out / name
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.write_text(content, encoding="utf-8")
        typer.echo(f"wrote {path}")


@app.command("check")
def check_command(out: Out = DEFAULT_OUT) -> None:
    """Échouer si un document n'est plus à jour (CI)."""
    problems = differences(out)
    if problems:
        typer.echo(
            "relais openapi: the documents differ from the services' routes; run "
            f"`{EXPORT_COMMAND}` and commit the result:\n  " + "\n  ".join(problems),
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"{out}: up to date ({len(SERVICES)} services)")
