"""Run the whole Relais system locally: keys, the web pages, the four services, a dev OpenID
provider with the demo PRE's people, and a demo PRE with sample data.

    uv run python scripts/dev.py            # start, load the demo, print URLs; Ctrl-C stops
    uv run python scripts/dev.py --help

Databases are created and migrated by each service at start-up; the broker topology is
declared the same way. Logs go to var/log/<service>.log.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx

from relais_parcours.adapters.vault import MASTER_KEY_FILENAME, load_master_key
from relais_referral.adapters.keys import generate_intake_key, generate_pre_secrets
from relais_reporting.cli import load_demo as load_reporting_demo
from relais_runtime.auth import generate_signing_key, mint_token
from relais_runtime.devstack import ALL_SERVICES, PortsInUseError, Stack, StackConfig
from relais_runtime.sealing import generate_pre_key
from relais_web.devidp.users import DEMO_USERS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_family import load_demo_family, read_letter

ROOT = Path(__file__).resolve().parents[1]
DEMO_PRE = "pre-76540"  # Rouen (INSEE 76540)

INSTITUTIONS = [
    {
        "id": "ecole-jules-ferry-rouen",
        "name": "École élémentaire Jules Ferry",
        "category": "school",
        "uai": "0761234A",
    },
    {
        "id": "college-barbey-daurevilly",
        "name": "Collège Barbey d'Aurevilly",
        "category": "school",
        "uai": "0765678B",
    },
    {
        "id": "ccas-rouen",
        "name": "CCAS de Rouen — service social",
        "category": "social_service",
        "siret": "21760540100017",
    },
    {"id": "pmi-rouen-sud", "name": "PMI Rouen Sud", "category": "health"},
    {"id": "asso-la-passerelle", "name": "Association La Passerelle", "category": "association"},
]
#: The demo PRE's partner directory, an Open Referral HSDS 3 file loaded by the import
#: (the same route a coordinator uses for a département's directory).
DEMO_DIRECTORY = ROOT / "scripts" / "demo" / "partners-pre-76540.hsds.json"


#: Demo référents of the PRE; a référent's token ``sub`` is its id (notifications use it).
REFERENTS = [
    {"id": "c4d9e2f1-6a3b-4c8d-9e0f-1a2b3c4d5e6f", "display_name": "Camille Morel"},
    {"id": "5b7e0c1d-2f3a-4b5c-8d6e-7f8091a2b3c4", "display_name": "Yanis Haddad"},
]


def tokens(keys_dir: Path) -> dict[str, str]:
    key = keys_dir / "jwt-signing.json"
    ttl = timedelta(hours=12)

    tokens: dict[str, str] = {}
    # The first demo person of each role: the same people the dev provider signs in.
    for user in DEMO_USERS:
        if user.role not in tokens:
            tokens[user.role] = mint_token(
                key, sub=user.sub, org=user.org, tenant=user.tenant, roles=[user.role], ttl=ttl
            )
    return tokens


def ensure_keys(keys_dir: Path) -> bool:
    """Make the keys that are missing; True when a key that data rests under was made."""
    made_data_key = False
    if not (keys_dir / "jwks.json").exists():
        generate_signing_key(keys_dir)
        print(f"  clé de signature des jetons créée dans {keys_dir}")
    if not (keys_dir / f"{DEMO_PRE}.public.jwk.json").exists():
        generate_pre_key(keys_dir, DEMO_PRE)
        made_data_key = True
        print(f"  clé de chiffrement du PRE {DEMO_PRE} créée dans {keys_dir}")
    if not (keys_dir / MASTER_KEY_FILENAME).exists():
        # Wraps each child's own key in parcours (deleting that key erases the identity).
        load_master_key(keys_dir, None, create=True)
        made_data_key = True
        print(f"  clé maîtresse des identités (parcours) créée dans {keys_dir}")
    # The referral service's own keys (same as `relais-referral keys init-pre|init-intake`):
    # identities at rest, the blind index of one child = one subject, the AMQP intake.
    if generate_pre_secrets(keys_dir / "referral", DEMO_PRE):
        made_data_key = True
        print(f"  clés d'orientation (stockage, index) du PRE {DEMO_PRE} créées")
    if generate_intake_key(keys_dir / "referral"):
        print("  clé de réception AMQP des orientations créée")
    return made_data_key


async def drop_stale_databases(pg_base: str, names: list[str]) -> list[str]:
    """Drop those of ``names`` that exist; returns the ones dropped."""
    conn = await asyncpg.connect(f"{pg_base}/postgres")
    try:
        dropped = []
        for name in names:
            if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                dropped.append(name)
        return dropped
    finally:
        await conn.close()


def write_tokens(path: Path, tok: dict[str, str]) -> None:
    """``RELAIS_TOKEN_<ROLE>=...`` lines, for ``source`` (the README, the walkthrough)."""
    path.write_text("".join(f"RELAIS_TOKEN_{k.upper()}={v}\n" for k, v in tok.items()))


def load_directory(config: StackConfig, tok: dict[str, str]) -> int:
    """The demo PRE's institutions, partners and référents, through the APIs.

    Returns how many partners the directory import recorded.
    """
    admin = {"Authorization": f"Bearer {tok['admin']}"}
    with httpx.Client(timeout=10) as http:
        for inst in INSTITUTIONS:
            body = {**inst, "pre_id": DEMO_PRE}
            r = http.put(
                f"{config.url('referral')}/v1/institutions/{inst['id']}", json=body, headers=admin
            )
            r.raise_for_status()
        r = http.post(
            f"{config.url('parcours')}/v1/directory/import",
            content=DEMO_DIRECTORY.read_bytes(),
            headers={**admin, "content-type": "application/json"},
        )
        r.raise_for_status()
        partners = len(r.json()["records"])
        for referent in REFERENTS:
            r = http.put(
                f"{config.url('parcours')}/v1/referents/{referent['id']}",
                json={"display_name": referent["display_name"]},
                headers=admin,
            )
            r.raise_for_status()
    return partners


def load_demo(config: StackConfig, tok: dict[str, str]) -> None:
    partners = load_directory(config, tok)
    print(
        f"  {len(INSTITUTIONS)} établissements, {partners} partenaires (annuaire HSDS) et "
        f"{len(REFERENTS)} référent·es chargés pour {DEMO_PRE}"
    )
    # Two fictitious school years in reporting's anonymous log only (idempotent), so the
    # dashboard has figures, suppressed cells included, from the first start.
    loaded = asyncio.run(
        load_reporting_demo(f"{config.pg_base}/{config.databases['reporting']}", DEMO_PRE, 350)
    )
    print(f"  indicateurs de démonstration : {loaded} événements anonymes dans reporting")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Démarre Relais en local (pages web, 4 services, PRE de démonstration).",
    )
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("RELAIS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
    )
    parser.add_argument(
        "--pg",
        default=os.environ.get("RELAIS_PG_BASE", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server DSN without database (default: local, user postgres)",
    )
    parser.add_argument(
        "--var", type=Path, default=ROOT / "var", help="where keys and logs go (default: ./var)"
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="start, load the demo, print, then stop (smoke check)",
    )
    args = parser.parse_args(argv)

    keys_dir: Path = args.var / "keys"
    print("Relais — démarrage local")
    new_keys = ensure_keys(keys_dir)
    databases = {s: f"relais_{s}" for s in ("referral", "parcours", "notifications", "reporting")}
    if new_keys:
        # Databases left by an earlier dev-up hold data sealed under keys this var/ no longer
        # has: unreadable, and the demo's replayed requests would clash with them.
        dropped = asyncio.run(drop_stale_databases(args.pg, list(databases.values())))
        if dropped:
            print(
                "  bases d'un démarrage précédent recréées (leurs clés ne sont plus dans "
                f"{keys_dir}) : {', '.join(dropped)}"
            )
    config = StackConfig(
        amqp_url=args.amqp_url,
        pg_base=args.pg,
        databases=databases,
        keys_dir=keys_dir,
        log_dir=args.var / "log",
        # On a developer machine, webhooks may point at a receiver on 127.0.0.1 over http
        # (e.g. `uv run relais-webhook-receiver`); production requires public https URLs.
        # Failed deliveries are retried after 5 s, 15 s and 30 s, then given up, so a trial
        # shows the whole cycle in a minute (production: 10 s up to 6 h, see the env example).
        # An environment variable of the same name set by the developer wins.
        extra_env={
            "NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE": "true",
            "NOTIFICATIONS_DELIVERY_BACKOFF_S": os.environ.get(
                "NOTIFICATIONS_DELIVERY_BACKOFF_S", "[5,15,30]"
            ),
        },
    )
    stack = Stack(config, [s.name for s in ALL_SERVICES])
    print("  démarrage des services (migrations, topologie)…")
    try:
        stack.start()
    except PortsInUseError as exc:
        taken = ", ".join(f"{port} ({name})" for name, port in exc.taken.items())
        print(
            f"Port(s) déjà utilisé(s) : {taken}. Un autre Relais tourne-t-il encore ? "
            "Arrêtez-le (Ctrl-C dans son terminal) puis relancez ./scripts/dev-up.",
            file=sys.stderr,
        )
        return 1
    try:
        tok = tokens(keys_dir)
        load_demo(config, tok)
        letters = load_demo_family(
            {name: config.url(name) for name in ("referral", "parcours")},
            tok,
            args.var / "demo-famille",
        )
        print(
            f"  famille de démonstration (Ouali) : lettres d'accès dans "
            f"{letters[0].parent} (mère en arabe, père en français)"
        )
        write_tokens(args.var / "demo-tokens.env", tok)
        print(f"\nRelais : {config.url('web')}  (connexion : choisissez une personne du PRE)")
        print("\nEspace famille (sans compte : le lien et le code de la lettre, une fois) :")
        for path, who in zip(letters, ("mère, en arabe", "père, en français"), strict=False):
            link, code = read_letter(path)
            print(f"  {who:<18} {link}  code {code}  ({path})")
        print("\nServices prêts :")
        for name in stack.processes:
            if name not in ("web", "devidp"):
                print(f"  {name:<14} {config.url(name)}/docs")
        print(f"  fournisseur d'identité de développement {config.url('devidp')}")
        print(f"  tableau de bord (analyste) {config.url('web')}/tableau-de-bord")
        print(f"\nJetons de démonstration (12 h) dans {args.var / 'demo-tokens.env'} ;")
        print("  source var/demo-tokens.env puis, par exemple :")
        print(
            f'  curl -s -H "Authorization: Bearer $RELAIS_TOKEN_COORDINATOR" '
            f"{config.url('parcours')}/v1/situations"
        )
        print(f"\nJeton établissement (école Jules Ferry) :\n  {tok['institution']}")
        print(f"\nJournaux : {config.log_dir}/<service>.log — Ctrl-C pour arrêter.")
        if args.no_wait:
            return 0
        signal.signal(signal.SIGTERM, _stop_once)
        while all(p.process and p.process.poll() is None for p in stack.processes.values()):
            time.sleep(1)
        print("Un service s'est arrêté ; voir les journaux.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _ignore_stop_signals()
        print("Arrêt des services…")
        stack.stop()


def _ignore_stop_signals() -> None:
    # A second Ctrl-C or SIGTERM while stopping would abort the clean-up and leave the
    # services running (`pkill -f scripts/dev.py` signals both uv and this process).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop_once(*_: object) -> None:
    _ignore_stop_signals()
    sys.exit(0)


if __name__ == "__main__":
    sys.exit(main())
