"""docs/parcours-walkthrough.md runs as written: its script, on the demo PRE, end to end.

The page's code block is the script's body word for word (so pasting the page and
running the script are the same thing), and the script runs against the services with
the demo PRE as ``./scripts/dev-up`` loads it and the token file it writes.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.dev import load_directory, tokens, write_tokens

ROOT = Path(__file__).resolve().parents[2]
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


@pytest.mark.e2e
@pytest.mark.integration
async def test_the_walkthrough_script_runs_on_the_demo_pre_from_referral_to_follow_up(
    stack_factory: Any, tmp_path: Path
) -> None:
    stack = await stack_factory(services=["referral", "parcours", "notifications"])
    demo_tokens = tokens(stack.keys_dir)
    await asyncio.to_thread(load_directory, stack.config, demo_tokens)
    write_tokens(tmp_path / "demo-tokens.env", demo_tokens)
    env = {
        **os.environ,
        "RELAIS_DEMO_TOKENS": str(tmp_path / "demo-tokens.env"),
        **{f"RELAIS_{s.upper()}_URL": stack.url(s) for s in ("referral", "parcours")},
        "RELAIS_NOTIFICATIONS_URL": stack.url("notifications"),
    }
    run = await asyncio.to_thread(
        subprocess.run,
        ["bash", str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
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
