"""Start the services as separate processes (local development, e2e tests, benchmarks).

The four APIs (:data:`SERVICES`) run by default; the web pages and the dev OpenID
provider they sign in with (:data:`FRONT`) run when asked for by name (dev-up, browser
tests). The dev provider is told ``RELAIS_ENV=dev`` unless the environment says otherwise:
it refuses to start in production.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    #: ``module:factory``; by default ``relais_<name>.main:create_app``.
    factory: str = ""
    has_database: bool = True

    @property
    def env_prefix(self) -> str:
        return f"{self.name.upper()}_"

    @property
    def app(self) -> str:
        return self.factory or f"relais_{self.name}.main:create_app"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("referral", 8001),
    ServiceSpec("parcours", 8002),
    ServiceSpec("notifications", 8003),
    ServiceSpec("reporting", 8004),
)
#: The web pages (port 8000) and the dev OpenID provider (8010), never run in production.
FRONT: tuple[ServiceSpec, ...] = (
    ServiceSpec("web", 8000, has_database=False),
    ServiceSpec("devidp", 8010, factory="relais_web.devidp.app:create_app", has_database=False),
)
ALL_SERVICES: tuple[ServiceSpec, ...] = FRONT + SERVICES


@dataclass
class StackConfig:
    amqp_url: str
    #: database name per service, on ``pg_base`` (a DSN without the database part).
    databases: Mapping[str, str]
    pg_base: str = "postgresql://postgres@127.0.0.1:5432"
    keys_dir: Path = Path("var/keys")
    log_dir: Path = Path("var/log")
    ports: Mapping[str, int] = field(default_factory=lambda: {s.name: s.port for s in ALL_SERVICES})
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: Set when the web pages run: notices then link to them, not to the APIs.
    notice_links_to_web: bool = False

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env_for(self, spec: ServiceSpec) -> dict[str, str]:
        p = spec.env_prefix
        env = {
            **os.environ,
            "RELAIS_AMQP_URL": self.amqp_url,
            "RELAIS_JWKS_PATH": str((self.keys_dir / "jwks.json").resolve()),
            "RELAIS_KEYS_DIR": str(self.keys_dir.resolve()),
            # Guardians' sessions: parcours signs them, keys beside the others.
            "RELAIS_FAMILY_JWKS_PATH": str((self.keys_dir / "family" / "jwks.json").resolve()),
            f"{p}HTTP_PORT": str(self.ports[spec.name]),
            f"{p}PUBLIC_URL": self.url(spec.name),
            **{f"RELAIS_{s.upper()}_URL": self.url(s) for s in self.ports},
            **self.extra_env,
        }
        if spec.has_database:
            env[f"{p}DATABASE_URL"] = f"{self.pg_base}/{self.databases[spec.name]}"
        if spec.name == "parcours" and "web" in self.ports:
            env.setdefault("PARCOURS_FAMILY_LINK_BASE", f"{self.url('web')}/famille/lettre")
        if spec.name == "devidp":
            env.setdefault("RELAIS_ENV", "dev")
            env["DEVIDP_ISSUER"] = self.url("devidp")
        if spec.name == "notifications" and self.notice_links_to_web:
            env["NOTIFICATIONS_REFERRAL_URL"] = self.url("web")
            env["NOTIFICATIONS_PARCOURS_URL"] = self.url("web")
        if spec.name == "web":
            env.setdefault("RELAIS_ENV", "dev")
            if "devidp" in self.ports:
                discovery = f"{self.url('devidp')}/.well-known/openid-configuration"
                env["WEB_OIDC_DISCOVERY_URL"] = discovery
        return env


class ServiceProcess:
    def __init__(self, spec: ServiceSpec, config: StackConfig) -> None:
        self.spec = spec
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.config.log_dir / f"{self.spec.name}.log"

    def start(self) -> None:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        port = str(self.config.ports[self.spec.name])
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "uvicorn",
                self.spec.app,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                port,
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env=self.config.env_for(self.spec),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.config.url(self.spec.name)}/ready"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - local URL
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout}s; see {self.log_path}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


class PortsInUseError(RuntimeError):
    """Some service ports are taken (another stack still running?): nothing was started."""

    def __init__(self, taken: Mapping[str, int]) -> None:
        self.taken = dict(taken)
        listed = ", ".join(f"{name} {port}" for name, port in self.taken.items())
        super().__init__(f"ports already in use: {listed}")


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        # As uvicorn binds: connections a stopped stack left in TIME_WAIT do not count,
        # a live listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class Stack:
    def __init__(self, config: StackConfig, services: Iterable[str] | None = None) -> None:
        wanted = set(services) if services is not None else {s.name for s in SERVICES}
        if "web" in wanted:
            config = replace(config, notice_links_to_web=True)
        self.config = config
        self.processes = {
            s.name: ServiceProcess(s, config) for s in ALL_SERVICES if s.name in wanted
        }

    def start(self, timeout: float = 90.0) -> None:
        # Checked first: with an old stack still on the ports, its /ready would answer for
        # the new processes, which then die on bind.
        taken = {
            name: self.config.ports[name]
            for name in self.processes
            if _port_taken(self.config.ports[name])
        }
        if taken:
            raise PortsInUseError(taken)
        for proc in self.processes.values():
            proc.start()
        try:
            for proc in self.processes.values():
                proc.wait_ready(timeout)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop()

    def restart(self, name: str, *, kill: bool = False, timeout: float = 60.0) -> None:
        proc = self.processes[name]
        if kill:
            proc.kill()
        proc.stop()
        proc.start()
        proc.wait_ready(timeout)
