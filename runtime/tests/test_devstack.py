"""The local stack launcher refuses to start over another stack's ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from relais_runtime.devstack import PortsInUseError, Stack, StackConfig, _port_taken


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


def test_a_port_left_in_time_wait_by_a_stopped_stack_is_free_again() -> None:
    # A stack just stopped leaves its ports' closed connections in TIME_WAIT for a minute;
    # uvicorn binds over them (SO_REUSEADDR), so the check must not call them taken.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server side closes first: its end goes to TIME_WAIT
        client.close()
    assert not _port_taken(port)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        assert _port_taken(port)  # a live listener is still seen
