"""Identity at rest: one data key per subject, wrapped by the service master key.

The vault itself is shared with the referral service (``relais_runtime.vault``); what
parcours adds is where its master key lives (``PARCOURS_MASTER_KEY`` or
``<keys_dir>/parcours-master.key``).
"""

from __future__ import annotations

from pathlib import Path

from relais_runtime.vault import IdentityUnreadableError, load_previous_master_keys
from relais_runtime.vault import SubjectVault as IdentityVault
from relais_runtime.vault import load_master_key as _load_master_key

__all__ = [
    "MASTER_KEY_FILENAME",
    "IdentityUnreadableError",
    "IdentityVault",
    "load_master_key",
    "load_vault",
]

MASTER_KEY_FILENAME = "parcours-master.key"


def load_master_key(keys_dir: Path, env_value: str | None, *, create: bool) -> bytes:
    return _load_master_key(keys_dir, env_value, create=create, filename=MASTER_KEY_FILENAME)


def load_vault(keys_dir: Path, env_value: str | None, *, create: bool) -> IdentityVault:
    """The vault with the current master key and those a rotation has not destroyed yet
    (``relais keys rotate-master parcours``), so rows not re-wrapped yet still open."""
    current = load_master_key(keys_dir, env_value, create=create)
    return IdentityVault(current, previous=load_previous_master_keys(keys_dir, MASTER_KEY_FILENAME))
