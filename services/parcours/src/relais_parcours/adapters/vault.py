"""Identity at rest: one data key per subject, wrapped by the service master key.

The vault itself is shared with the referral service (``relais_runtime.vault``); what
parcours adds is where its master key lives (``PARCOURS_MASTER_KEY`` or
``<keys_dir>/parcours-master.key``).
"""

from __future__ import annotations

from pathlib import Path

from relais_runtime.vault import IdentityUnreadableError
from relais_runtime.vault import SubjectVault as IdentityVault
from relais_runtime.vault import load_master_key as _load_master_key

__all__ = ["MASTER_KEY_FILENAME", "IdentityUnreadableError", "IdentityVault", "load_master_key"]

MASTER_KEY_FILENAME = "parcours-master.key"


def load_master_key(keys_dir: Path, env_value: str | None, *, create: bool) -> bytes:
    return _load_master_key(keys_dir, env_value, create=create, filename=MASTER_KEY_FILENAME)
