"""The local stack launcher refuses to start over another stack's ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from relais_runtime.devstack import PortsInUseError, Stack, StackConfig


def test_a_stack_whose_port_is_taken_starts_nothing_and_names_the_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        config = StackConfig(
            amqp_url="amqp://guest:guest@127.0.0.1:5672/",
            pg_base="postgresql://postgres@127.0.0.1:5432",
            databases={"referral": "unused_a", "parcours": "unused_b"},
            keys_dir=tmp_path,
            log_dir=tmp_path / "log",
            ports={"referral": free, "parcours": taken},
        )
        stack = Stack(config, services=["referral", "parcours"])
        with pytest.raises(PortsInUseError) as raised:
            stack.start()
        assert raised.value.taken == {"parcours": taken}
        assert all(p.process is None for p in stack.processes.values())
