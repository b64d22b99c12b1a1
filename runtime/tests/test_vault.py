"""The per-subject key vault shared by parcours and referral (unit tests)."""

from __future__ import annotations

import os
import uuid

import pytest

from relais_runtime.vault import IdentityUnreadableError, SubjectVault


def test_a_data_key_rewrapped_under_a_new_master_still_opens_what_it_encrypted() -> None:
    old_master, new_master = os.urandom(32), os.urandom(32)
    subject = uuid.uuid4()
    old = SubjectVault(old_master, kid="store.1")
    wrapped = old.new_data_key(subject)
    blob = old.encrypt(wrapped, subject, {"name": "Lina"})

    new = SubjectVault(new_master, kid="store.2", previous={"store.1": old_master})
    rewrapped = new.rewrap(wrapped, subject, "store.1")

    assert new.decrypt(rewrapped, subject, blob, master_kid="store.2") == {"name": "Lina"}
    assert new.decrypt(wrapped, subject, blob, master_kid="store.1") == {"name": "Lina"}
    # Once the old master is destroyed, the old wrapping opens nothing.
    alone = SubjectVault(new_master, kid="store.2")
    with pytest.raises(IdentityUnreadableError):
        alone.decrypt(wrapped, subject, blob, master_kid="store.1")
    with pytest.raises(IdentityUnreadableError):
        alone.decrypt(wrapped, subject, blob, master_kid="store.2")


def test_a_ciphertext_does_not_open_for_another_subject() -> None:
    vault = SubjectVault(os.urandom(32))
    subject, other = uuid.uuid4(), uuid.uuid4()
    wrapped = vault.new_data_key(subject)
    blob = vault.encrypt(wrapped, subject, {"name": "Lina"})
    with pytest.raises(IdentityUnreadableError):
        vault.decrypt(wrapped, other, blob)
