"""The README's "Try it" and docs/parcours-walkthrough.md run as written on the demo PRE.

The page's code block is the script's body word for word (so pasting the page and
running the script are the same thing). Both run against the services with the demo PRE
as ``./scripts/dev-up`` loads it and the token file it writes; only the services' ports
differ (the test's own, so that a developer's running stack is left alone).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.dev import load_directory, tokens, write_tokens

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGE = ROOT / "docs" / "parcours-walkthrough.md"
SCRIPT = ROOT / "docs" / "parcours-walkthrough.sh"


def script_body() -> str:
    text = SCRIPT.read_text()
    start = text.index("# --- walkthrough ---\n") + len("# --- walkthrough ---\n")
    return text[start : text.index("# --- end of walkthrough ---")]


def test_the_walkthrough_page_shows_its_script_word_for_word() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert script_body() in blocks, (
        "docs/parcours-walkthrough.md: its bash block must be the lines between the "
        "'walkthrough' marks of docs/parcours-walkthrough.sh"
    )


def try_it_block(stack: Any) -> str:
    """The README's first command block after "### Try it", on the test stack's ports."""
    text = README.read_text()
    block = re.search(r"```bash\n(.*?)```", text[text.index("### Try it") :], flags=re.S)
    assert block is not None
    commands = block.group(1)
    for service, port in (("referral", 8001), ("parcours", 8002), ("notifications", 8003)):
        commands = commands.replace(f"http://127.0.0.1:{port}", stack.url(service))
    return commands.replace("http://127.0.0.1:8004", stack.url("reporting"))


def json_documents(text: str) -> list[Any]:
    """The JSON answers curl printed one after the other (without newlines between)."""
    decoder = json.JSONDecoder()
    documents: list[Any] = []
    rest = text.lstrip()
    while rest:
        document, used = decoder.raw_decode(rest)
        documents.append(document)
        rest = rest[used:].lstrip()
    return documents


async def bash(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run bash as a reader would, in ``cwd``; fail the test with its output if it fails."""
    run = await asyncio.to_thread(
        subprocess.run,
        ["bash", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    return run


@pytest.mark.e2e
@pytest.mark.integration
async def test_the_readme_try_it_and_the_walkthrough_script_run_on_the_demo_pre(
    stack_factory: Any, tmp_path: Path
) -> None:
    stack = await stack_factory()
    demo_tokens = tokens(stack.keys_dir)
    await asyncio.to_thread(load_directory, stack.config, demo_tokens)
    (tmp_path / "var").mkdir()
    write_tokens(tmp_path / "var" / "demo-tokens.env", demo_tokens)

    # The README's "Try it", from a checkout where dev-up wrote var/demo-tokens.env.
    try_it = await bash("-eo", "pipefail", "-c", try_it_block(stack), cwd=tmp_path)
    [created] = json_documents(try_it.stderr)
    answers = json_documents(try_it.stdout)
    assert answers[0]["id"] == created["id"]  # GET /v1/referrals/$REF
    errors = [a for a in answers if isinstance(a, dict) and {"code", "message"} <= a.keys()]
    assert errors == [], errors

    # The walkthrough script, from the repository, told where the services listen.
    run = await bash(
        str(SCRIPT),
        cwd=ROOT,
        RELAIS_DEMO_TOKENS=str(tmp_path / "var" / "demo-tokens.env"),
        **{f"RELAIS_{s.upper()}_URL": stack.url(s) for s in ("referral", "parcours")},
        RELAIS_NOTIFICATIONS_URL=stack.url("notifications"),
    )
    assert "sheet after withdrawal: 403" in run.stdout

    [situation_id] = re.findall(r"-> situation (\S+)", run.stdout)
    coordinator = {"Authorization": f"Bearer {demo_tokens['coordinator']}"}
    async with httpx.AsyncClient(base_url=stack.url("parcours"), timeout=10) as http:
        situation = (await http.get(f"/v1/situations/{situation_id}", headers=coordinator)).json()
        referent = {"Authorization": f"Bearer {demo_tokens['referent']}"}
        ledger = (
            await http.get(f"/v1/situations/{situation_id}/disclosures", headers=referent)
        ).json()
    assert situation["stage"] == "closed", situation
    assert [d["partner_id"] for d in ledger] == ["cmpp-rouen-rive-gauche"]
