"""deploy/keys-init.sh run as the image's user on volumes set up as compose sets them up.

No container runs here (PLATFORM-NOTES: ``podman run`` fails in this VM), so the test
rebuilds what the ``keys-init`` container sees from the artefacts themselves:
- the image's user (``USER`` of deploy/Containerfile) and the mount points its runtime
  stage creates for that user (``install -d -o ...``);
- the volumes compose mounts into ``keys-init``: a fresh named volume takes the owner of
  the image's directory it is mounted on (Docker/Podman copy-up), and is root's when the
  image has no such directory;
- a virtual environment built like the image's (``uv sync --no-editable --package
  relais-referral``) on an interpreter the unprivileged user can run.
The script's own defaults (``${KEYS_..._DIR:-/keys/...}``) are redirected below a
temporary root, one by one, to the compose mounts of the same path.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def runtime_stage() -> list[str]:
    """The Containerfile's last stage, continuation lines joined."""
    text = (DEPLOY / "Containerfile").read_text()
    stage = text[text.rindex("\nFROM ") :]
    return stage.replace("\\\n", " ").splitlines()


def image_user() -> tuple[int, int]:
    [user] = [line.split()[1] for line in runtime_stage() if line.startswith("USER ")]
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def image_dirs_for_user(uid: int) -> set[str]:
    """Directories the runtime stage creates owned by ``uid`` (``install -d -o uid``)."""
    dirs: set[str] = set()
    for line in runtime_stage():
        for command in line.split("&&"):
            words = command.split()
            if "install" in words and "-d" in words and str(uid) in words:
                dirs.update(w for w in words if w.startswith("/"))
    return dirs


def keys_init_mounts() -> list[str]:
    service = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["keys-init"]
    return [volume.split(":")[1] for volume in service["volumes"]]


def keys_init_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (DEPLOY / "env" / "keys.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value
    return env


def script_defaults() -> dict[str, str]:
    """``KEYS_..._DIR`` variable -> its default path, from the script."""
    text = (DEPLOY / "keys-init.sh").read_text()
    return dict(re.findall(r"\$\{(KEYS_[A-Z_]+_DIR):-(/[^}]+)\}", text))


def runnable_python() -> str:
    """An interpreter every user may run (pyenv's under /root is not)."""
    for candidate in (sys.executable, "/usr/bin/python3.11"):
        path = Path(candidate).resolve()
        if all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents]):
            return str(path)
    pytest.fail("no Python 3.11 that an unprivileged user can run (tried /usr/bin/python3.11)")


@dataclass
class ImageLike:
    root: Path
    uid: int
    gid: int
    venv: Path

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def run_keys_init(self) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": f"{self.venv}/bin:/usr/bin:/bin",
            "HOME": str(self.root / "app"),
            **keys_init_env(),
            **{name: str(self.path(default)) for name, default in script_defaults().items()},
        }
        command = ["sh", str(self.path("/usr/local/bin/relais-keys-init"))]
        if os.geteuid() == 0:  # drop to the image's user, as the container runs
            user = [f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]
            command = ["setpriv", *user, *command]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )


def fresh_volume(directory: Path, owner: tuple[int, int] | None) -> None:
    """A fresh named volume: the image directory's owner when there is one, else root's."""
    directory.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        os.chown(directory, *owner)
        directory.chmod(0o750)
    elif os.geteuid() == 0:
        os.chown(directory, 0, 0)
        directory.chmod(0o755)
    else:  # running unprivileged: a directory this user cannot write stands for root's
        directory.chmod(0o555)


@pytest.fixture(scope="module")
def built_venv() -> Iterator[Path]:
    """The image's virtual environment, built the way its build stage builds it."""
    where = Path(tempfile.mkdtemp(prefix="relais-image-venv-"))
    where.chmod(0o755)
    uv = shutil.which("uv")
    assert uv is not None
    options = ["--no-dev", "--no-editable", "--quiet", "--package", "relais-referral"]
    subprocess.run(
        [uv, "sync", "--locked", *options, "--python", runnable_python()],
        cwd=ROOT,
        env={**os.environ, "UV_PROJECT_ENVIRONMENT": str(where / "venv")},
        check=True,
        timeout=600,
    )
    yield where / "venv"
    shutil.rmtree(where)


@pytest.fixture
def image_like(built_venv: Path) -> Iterator[ImageLike]:
    root = Path(tempfile.mkdtemp(prefix="relais-keys-init-"))
    root.chmod(0o755)
    uid, gid = image_user() if os.geteuid() == 0 else (os.getuid(), os.getgid())
    created = image_dirs_for_user(image_user()[0])
    for inside in sorted(created):
        fresh_volume(root / inside.lstrip("/"), (uid, gid))
    for mount in keys_init_mounts():
        fresh_volume(root / mount.lstrip("/"), (uid, gid) if mount in created else None)
    script = root / "usr/local/bin/relais-keys-init"
    script.parent.mkdir(parents=True)
    shutil.copy(DEPLOY / "keys-init.sh", script)
    script.chmod(0o755)
    (root / "app").mkdir()
    yield ImageLike(root, uid, gid, built_venv)
    shutil.rmtree(root)


def test_every_key_directory_keys_init_writes_is_a_volume_compose_mounts() -> None:
    # A default the script writes but compose does not mount lands on the read-only root.
    assert set(script_defaults().values()) <= set(keys_init_mounts())


@pytest.mark.integration  # builds the image's venv and runs the script as the image user
def test_keys_init_as_the_image_user_creates_every_key_on_fresh_compose_volumes(
    image_like: ImageLike,
) -> None:
    first = image_like.run_keys_init()
    assert first.returncode == 0, first.stdout + first.stderr
    tenant = keys_init_env()["RELAIS_PRE_IDS"].split(",")[0]
    written = {
        "/keys/jwt/jwt-signing.json": 0o600,
        "/keys/jwks/jwks.json": 0o644,
        f"/keys/pre-private/{tenant}.private.jwk.json": 0o600,
        f"/keys/pre-public/{tenant}.public.jwk.json": 0o644,
        "/keys/pre-private/parcours-master.key": 0o600,
        "/keys/pre-private/family/jwt-signing.json": 0o600,
        "/keys/pre-private/family/jwks.json": 0o644,
    }
    for inside, mode in written.items():
        info = image_like.path(inside).stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (image_like.uid, mode), inside
    referral = sorted(p.name for p in image_like.path("/keys/referral").iterdir())
    assert f"{tenant}.referral.json" in referral
    assert any("intake" in name for name in referral), referral

    before = {inside: image_like.path(inside).read_bytes() for inside in written}
    again = image_like.run_keys_init()  # idempotent: every key kept
    assert again.returncode == 0, again.stdout + again.stderr
    assert {inside: image_like.path(inside).read_bytes() for inside in written} == before


@pytest.mark.integration  # builds the image's venv and runs the script as the image user
def test_keys_init_names_a_key_directory_it_cannot_write_and_writes_nothing(
    image_like: ImageLike,
) -> None:
    fresh_volume(image_like.path("/keys/referral"), None)  # as if the image lacked it
    run = image_like.run_keys_init()
    assert run.returncode != 0
    assert "/keys/referral" in run.stderr
    assert "n'est pas inscriptible" in run.stderr
    assert not image_like.path("/keys/jwt/jwt-signing.json").exists()
