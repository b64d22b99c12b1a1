"""Three RabbitMQ nodes of a test's own, clustered beside the system broker.

Each node has its own name, ports, config, data and log directories under a temporary
directory, and runs as the rabbitmq user (sharing its Erlang cookie). The system node
rabbit@localhost is never touched: every other test uses it (PLATFORM-NOTES.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relais_runtime.testing import free_port

RABBITMQ_USER = "rabbitmq"
RABBITMQ_HOME = "/var/lib/rabbitmq"


def ctl(node: str, *args: str, timeout: float = 120) -> str:
    """rabbitmqctl against one node (the Debian wrapper runs it as the rabbitmq user)."""
    exe = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    done = subprocess.run(
        [exe, "-q", "-n", node, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl -n {node} {' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


@dataclass
class RabbitNode:
    name: str  # relais<token>-<i>@localhost
    port: int
    dist_port: int
    home: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": RABBITMQ_HOME,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.home / "advanced.config"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_PID_FILE": str(self.home / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
        }

    def prepare(self) -> None:
        for sub in ("mnesia", "log"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        (self.home / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            # A test machine's disk and memory must not trigger alarms that block publishers.
            "disk_free_limit.absolute = 50MB\n"
            "vm_memory_high_watermark.relative = 0.8\n"
        )
        (self.home / "advanced.config").write_text("[].\n")
        (self.home / "enabled_plugins").write_text("[].\n")
        shutil.chown(self.home, RABBITMQ_USER, RABBITMQ_USER)
        for path in self.home.rglob("*"):
            shutil.chown(path, RABBITMQ_USER, RABBITMQ_USER)

    def start(self) -> None:
        """Boot the node (about 25 s) and wait until its applications run."""
        exe = shutil.which("rabbitmq-server") or "/usr/sbin/rabbitmq-server"
        runuser = shutil.which("runuser") or "/usr/sbin/runuser"
        subprocess.run(
            [runuser, "-u", RABBITMQ_USER, "--", exe, "-detached"],
            env=self.env(),
            check=True,
            timeout=60,
            cwd=RABBITMQ_HOME,
        )
        self.wait_started()

    def wait_started(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                ctl(self.name, "await_startup", "--timeout", "30", timeout=60)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def stop(self) -> None:
        """Stop the whole node (the Erlang VM), as a lost machine would go."""
        ctl(self.name, "stop", timeout=120)

    def running(self) -> bool:
        try:
            ctl(self.name, "status", timeout=30)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True


class RabbitCluster:
    def __init__(self, size: int = 3) -> None:
        token = uuid.uuid4().hex[:6]
        self.root = Path(tempfile.mkdtemp(prefix=f"relais-cluster-{token}-", dir="/var/tmp"))
        self.nodes = [
            RabbitNode(
                name=f"relais{token}-{i}@localhost",
                port=free_port(),
                dist_port=free_port(),
                home=self.root / f"node{i}",
            )
            for i in range(1, size + 1)
        ]
        shutil.chown(self.root, RABBITMQ_USER, RABBITMQ_USER)

    def start(self) -> float:
        """Boot the nodes in parallel, join them to the first; return the seconds it took."""
        began = time.monotonic()
        for node in self.nodes:
            node.prepare()
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(RabbitNode.start, self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            ctl(node.name, "stop_app")
            ctl(node.name, "join_cluster", first.name)
            ctl(node.name, "start_app")
        return time.monotonic() - began

    def stop(self) -> None:
        for node in self.nodes:
            if node.running():
                node.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def amqp_url(self, vhost: str, user: str = "guest", password: str = "guest") -> str:
        hosts = ",".join(node.address for node in self.nodes)
        return f"amqp://{user}:{password}@{hosts}/{vhost}"

    def running_nodes(self) -> list[str]:
        status = json.loads(ctl(self.nodes[0].name, "cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def node(self, name: str) -> RabbitNode:
        return next(n for n in self.nodes if n.name == name)

    def queues(self, via: RabbitNode, vhost: str) -> list[dict[str, Any]]:
        """Name, type, leader, members and message counts of the vhost's queues."""
        out = ctl(
            via.name,
            "list_queues",
            "-p",
            vhost,
            "name",
            "type",
            "leader",
            "members",
            "messages",
            "--formatter",
            "json",
        )
        return list(json.loads(out))
