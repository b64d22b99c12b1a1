"""The five images built by scripts/build-images, run as they are: each image's root file
system mounted (podman image mount), its entrypoint started with chroot as the image's
non-root user against the local broker and database, the keys made by the images' own
keys-init; then one referral through the four, and the web pages' image answering /ready
and serving its pages and design system files (long lane: ./scripts/test-long).

`podman run` does not work on this machine kind (crun cannot set rlimits, PLATFORM-NOTES);
running the entrypoint in the image's own files proves the venv, the entrypoint, the user
and the migrations inside the wheels."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from relais_runtime import testing
from relais_runtime.auth import mint_token
from relais_runtime.testing import free_port
from tests.conftest import PRE
from tests.e2e.test_backbone_flow import SCHOOL, eventually, referral_body

pytestmark = [
    pytest.mark.long,
    pytest.mark.images,
    pytest.mark.e2e,
    pytest.mark.integration,
    pytest.mark.timeout(3600),
]

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("referral", "parcours", "notifications", "reporting")
#: Every image: the four services and the web pages (no database, broker nor key).
IMAGES = (*SERVICES, "web")
TAG = os.environ.get("RELAIS_IMAGE_TAG", "dev")
UID = 10001
# Where each service's keys are mounted, as in deploy/compose.yaml.
KEY_MOUNTS: dict[str, dict[str, str]] = {
    "keys-init": {
        "jwt": "/keys/jwt",
        "jwks": "/keys/jwks",
        "pre-private": "/keys/pre-private",
        "pre-public": "/keys/pre-public",
        "referral": "/keys/referral",
    },
    "referral": {"jwks": "/keys/jwks", "pre-public": "/keys/pre", "referral": "/keys/referral"},
    "parcours": {"jwks": "/keys/jwks", "pre-private": "/keys/pre"},
    "notifications": {"jwks": "/keys/jwks"},
    "reporting": {"jwks": "/keys/jwks"},
}


def run(*argv: str, timeout: float = 120) -> str:
    done = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout)
    return done.stdout


def image(service: str) -> str:
    return f"localhost/relais/{service}:{TAG}"


@dataclass
class MountedImage:
    """An image's root file system, mounted; commands run in it with chroot."""

    name: str
    root: Path = field(init=False)
    config: dict[str, Any] = field(init=False)
    binds: list[Path] = field(default_factory=list)

    def __enter__(self) -> MountedImage:
        self.config = json.loads(run("podman", "image", "inspect", self.name))[0]["Config"]
        self.root = Path(run("podman", "image", "mount", self.name).strip())
        return self

    def bind(self, host: Path, inside: str, *, read_only: bool = False) -> None:
        target = self.root / inside.lstrip("/")
        assert target.is_dir(), f"{self.name} has no {inside} to mount on"
        run("mount", "--bind", str(host), str(target))
        if read_only:
            run("mount", "-o", "remount,bind,ro", str(target))
        self.binds.append(target)

    def __exit__(self, *_: object) -> None:
        for target in reversed(self.binds):
            subprocess.run(["umount", "-l", str(target)], check=False)
        subprocess.run(
            ["podman", "image", "unmount", self.name], check=False, timeout=60, capture_output=True
        )

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "root")

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        image_env = dict(item.split("=", 1) for item in self.config.get("Env", []))
        return {**image_env, **extra}

    def command(self, argv: list[str] | None = None) -> list[str]:
        """chroot into the image as its user, in its working directory."""
        argv = argv or [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]
        workdir = self.config.get("WorkingDir") or "/"
        return [
            "chroot",
            f"--userspec={self.user}",
            str(self.root),
            "/usr/bin/env",
            f"--chdir={workdir}",
            *argv,
        ]


@pytest.fixture(scope="module")
def built() -> dict[str, int]:
    """Build (or reuse, cached) the five images; their sizes in bytes."""
    started = time.monotonic()
    subprocess.run([str(ROOT / "scripts" / "build-images"), "--tag", TAG], check=True, timeout=3600)
    sizes = {
        s: int(run("podman", "image", "inspect", "--format", "{{.Size}}", image(s)).strip())
        for s in IMAGES
    }
    print(f"\nimages built in {time.monotonic() - started:.0f} s")
    return sizes


@pytest.fixture
def keys_root() -> Iterator[Path]:
    """Empty key folders owned by the images' user (what named volumes are in compose)."""
    root = Path(tempfile.mkdtemp(prefix="relais-keys-", dir="/var/tmp"))
    for name in KEY_MOUNTS["keys-init"]:
        (root / name).mkdir()
    for path in [root, *root.iterdir()]:
        os.chown(path, UID, UID)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class ImageStack:
    amqp_url: str
    databases: dict[str, str]
    ports: dict[str, int]
    keys: Path
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self, service: str) -> dict[str, str]:
        prefix = service.upper() + "_"
        return {
            "RELAIS_AMQP_URL": self.amqp_url,
            "RELAIS_JWKS_PATH": "/keys/jwks/jwks.json",
            "RELAIS_KEYS_DIR": "/keys/pre",
            "RELAIS_LOG_LEVEL": "INFO",
            "REFERRAL_SECRETS_DIR": "/keys/referral",
            "REPORTING_SMALL_CELL_THRESHOLD": "1",
            "UVICORN_HOST": "127.0.0.1",
            "UVICORN_PORT": str(self.ports[service]),
            f"{prefix}DATABASE_URL": testing.dsn_for(self.databases[service]),
            f"{prefix}PUBLIC_URL": self.url(service),
            **{f"RELAIS_{s.upper()}_URL": self.url(s) for s in SERVICES},
        }

    def web_env(self) -> dict[str, str]:
        """Production settings: a Secure cookie, secrets given, a provider to sign in with."""
        return {
            "RELAIS_ENV": "production",
            "RELAIS_LOG_LEVEL": "INFO",
            "UVICORN_HOST": "127.0.0.1",
            "UVICORN_PORT": str(self.ports["web"]),
            "WEB_PUBLIC_URL": self.url("web"),
            "WEB_SESSION_SECRET": "image-test-session-secret-of-32-bytes",
            "WEB_OIDC_CLIENT_SECRET": "image-test-client-secret",
            "WEB_OIDC_DISCOVERY_URL": "https://auth.example.org/.well-known/openid-configuration",
            **{f"WEB_{s.upper()}_URL": self.url(s) for s in SERVICES},
        }

    def auth(self, role: str, org: str) -> dict[str, str]:
        token = mint_token(
            self.keys / "jwt" / "jwt-signing.json",
            sub=f"{role}-{org}",
            org=org,
            tenant=PRE,
            roles=[role],
            ttl=timedelta(hours=1),
        )
        return {"Authorization": f"Bearer {token}"}


def wait_ready(stack: ImageStack, service: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    proc = stack.processes[service]
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (stack.log_dir / f"{service}.log").read_text(errors="replace")
            raise AssertionError(f"{service} exited with {proc.returncode}:\n{log[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{stack.url(service)}/ready", timeout=3).status_code == 200:
                return
        time.sleep(0.5)
    raise AssertionError(f"{service}: /ready not 200 after {timeout:.0f} s")


@pytest.fixture
async def image_stack(
    built: dict[str, int], keys_root: Path, tmp_path: Path
) -> AsyncIterator[ImageStack]:
    vhost = testing.unique_name("relais-images")
    amqp_url = await testing.create_vhost(vhost)
    run_id = testing.unique_name("img")
    stack = ImageStack(
        amqp_url=amqp_url,
        databases={s: f"relais_{run_id}_{s}" for s in SERVICES},
        ports={s: free_port() for s in IMAGES},
        keys=keys_root,
        log_dir=tmp_path,
    )
    with contextlib.ExitStack() as mounts:
        # keys-init, run from the referral image as the compose file's one-shot container.
        init = mounts.enter_context(MountedImage(image("referral")))
        for name, inside in KEY_MOUNTS["keys-init"].items():
            init.bind(keys_root / name, inside)
        done = subprocess.run(
            init.command(["relais-keys-init"]),
            env=init.env({"RELAIS_PRE_IDS": PRE}),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for target in reversed(init.binds):
            run("umount", str(target))
        init.binds.clear()

        for service in SERVICES:
            mounted = mounts.enter_context(MountedImage(image(service)))
            assert mounted.user == f"{UID}:{UID}"
            for name, inside in KEY_MOUNTS[service].items():
                mounted.bind(keys_root / name, inside, read_only=True)
            log = (tmp_path / f"{service}.log").open("wb")
            mounts.callback(log.close)
            stack.processes[service] = subprocess.Popen(
                mounted.command(),
                env=mounted.env(stack.env(service)),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        web = mounts.enter_context(MountedImage(image("web")))
        assert web.user == f"{UID}:{UID}"
        web_log = (tmp_path / "web.log").open("wb")
        mounts.callback(web_log.close)
        stack.processes["web"] = subprocess.Popen(
            web.command(), env=web.env(stack.web_env()), stdout=web_log, stderr=subprocess.STDOUT
        )
        try:
            for service in IMAGES:
                wait_ready(stack, service)
            yield stack
        finally:
            for proc in stack.processes.values():
                proc.terminate()
            for proc in stack.processes.values():
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for name in stack.databases.values():
                await testing.drop_database(name)
            await testing.delete_vhost(vhost)


async def test_the_images_run_as_their_user_and_carry_a_referral_through_the_four(
    image_stack: ImageStack, built: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    stack = image_stack
    # Each service runs as the image's user, not root.
    for service, proc in stack.processes.items():
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        # the chroot process execs env, which execs uvicorn: same pid, the image's uid
        assert uid_line.split()[1:3] == [str(UID), str(UID)], service

    institution = stack.auth("institution", SCHOOL)
    coordinator = stack.auth("coordinator", "pre-76540-coordination")
    async with httpx.AsyncClient(timeout=15) as http:
        r = await http.put(
            f"{stack.url('referral')}/v1/institutions/{SCHOOL}",
            json={
                "id": SCHOOL,
                "pre_id": PRE,
                "name": "École Jules Ferry",
                "category": "school",
                "uai": "0761234A",
            },
            headers=stack.auth("admin", "pre-76540-coordination"),
        )
        assert r.status_code == 200, r.text
        created = await http.post(
            f"{stack.url('referral')}/v1/referrals",
            json=referral_body(),
            headers={**institution, "Idempotency-Key": "image-run-1"},
        )
        assert created.status_code == 201, created.text
        referral_url = f"{stack.url('referral')}/v1/referrals/{created.json()['id']}"

        async def under_review() -> bool:
            body = (await http.get(referral_url, headers=institution)).json()
            return bool(body["status"] == "under_review")

        await eventually(under_review, timeout=60)

        async def situation() -> list[Any]:
            r = await http.get(f"{stack.url('parcours')}/v1/situations", headers=coordinator)
            return list(r.json()["items"])

        [opened] = await eventually(situation)
        assert opened["institution_ids"] == [SCHOOL]

        async def sender_feed() -> bool:
            r = await http.get(f"{stack.url('notifications')}/v1/feed", headers=institution)
            return len(r.json()["items"]) == 2

        await eventually(sender_feed)

        async def counted() -> bool:
            r = await http.get(
                f"{stack.url('reporting')}/v1/indicators",
                params={"school_year": "2026-2027"},
                headers=stack.auth("analyst", "anct"),
            )
            values = {i["key"]: i["value"] for i in r.json()["indicators"]}
            return bool(values["new_referrals"] == 1)

        await eventually(counted)

        # The web pages' image: French pages and the State design system's files it ships.
        home = await http.get(stack.url("web"))
        assert home.status_code == 200
        assert "Se connecter" in home.text
        assert home.headers["cache-control"] == "no-store"
        for asset in ("dsfr.min.css", "utility/utility.min.css", "favicon/favicon.svg"):
            r = await http.get(f"{stack.url('web')}/static/dsfr/{asset}")
            assert r.status_code == 200, asset
        # A notice's link asks for the sign-in, then comes back to it.
        link = await http.get(f"{stack.url('web')}/v1/referrals/{created.json()['id']}")
        assert link.status_code == 303
        assert link.headers["location"].startswith("/connexion?suite=")

    with capsys.disabled():
        for service, size in built.items():
            print(f"image {image(service)}: {size / 1e6:.0f} MB")
