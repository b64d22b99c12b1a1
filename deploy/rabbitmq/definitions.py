"""Generate (or check) deploy/rabbitmq/definitions.json, RabbitMQ 3.10 definitions for Relais.

    uv run python deploy/rabbitmq/definitions.py > deploy/rabbitmq/definitions.json
    uv run python deploy/rabbitmq/definitions.py --check      # CI: the file is up to date
    RABBITMQ_PASSWORD_RELAIS_PARCOURS=... uv run python deploy/rabbitmq/definitions.py \\
        --passwords-from-env --institution ecole-jules-ferry-rouen > definitions.prod.json

Everything that decides a permission comes from the contract (``relais_contracts``):
the work queues and their bindings (``topology.QUEUES``) and who publishes which event
(``catalogue.PRODUCER``), so a new queue or event cannot silently drift from the broker's
rules: ``--check`` fails until this file is regenerated.

What it grants, in the vhost ``relais`` (regexes are anchored):

service users ``relais-<service>``
    configure  the shared exchanges (each service declares them at start-up, idempotently),
               the delay exchanges and queues ``relais.delay.<ms>[.quorum]``, and its own
               queues ``<service>.*``
    write      ``relais.retry``, ``relais.parking``, ``relais.delay.<ms>`` (retry and park
               copies; RabbitMQ also requires write on a queue's dead-letter exchange to
               declare it), ``relais.events`` if it publishes events, its own queues
               (binding needs write on the queue)
    read       its own queues, the exchanges it binds from, the delay queues (RabbitMQ
               requires read on a queue to declare it with a dead-letter exchange)
    topic      on ``relais.events``: publish only routing keys of the domains it owns;
               bind only keys of the domains its queues listen to (AMQP 0-9-1 checks binding
               keys against the topic ``read`` pattern); same for ``relais.intake``
``relais-operator``   ``relais dlq`` (list/show: read ``*.dlq``; replay: write ``relais.retry``)
``relais-admin``      administrator (management UI), full rights on the vhost
``inst-<institution>`` (template, one per institution integrating over AMQP)
    write ``relais.intake`` only, and only the routing key ``referral.submit.v1.<id>``
``partner-<org>`` (template, one per organisation receiving over AMQP)
    read its own delivery queue ``deliver.<org>`` only

Password hashes are salted SHA-256 (``rabbit_password_hashing_sha256``, the 3.10
default). Without ``--passwords-from-env`` every user gets the DEVELOPMENT password
``dev-<user>`` with a salt derived from the name, so the output is reproducible; never use
that file outside a developer machine.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path

from relais_contracts.catalogue import PRODUCER
from relais_contracts.topology import (
    DELAY_PREFIX,
    DELIVERY_QUEUE_PREFIX,
    EVENTS_EXCHANGE,
    INTAKE_EXCHANGE,
    PARKING_EXCHANGE,
    QUEUES,
    RETRY_EXCHANGE,
)

VHOST = "relais"
SERVICES = ("referral", "parcours", "notifications", "reporting")
#: The default backoff steps (RelaisSettings.retry_delays_ms); services declare the delay
#: exchanges and queues for their own steps, these are only pre-created for visibility.
DEFAULT_DELAYS_MS = (1_000, 10_000, 60_000)
DEMO_INSTITUTIONS = ("ecole-jules-ferry-rouen",)
DEMO_PARTNERS = ("cmpp-rouen-rive-gauche",)
OUTPUT = Path(__file__).with_name("definitions.json")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

SHARED_EXCHANGES = (EVENTS_EXCHANGE, INTAKE_EXCHANGE, RETRY_EXCHANGE, PARKING_EXCHANGE)
#: The delay exchanges ``relais.delay.<ms>`` and their quorum queues ``relais.delay.<ms>.quorum``
#: (the exchange's name is also that of the classic queue services declared before the
#: delay queues became quorum queues: a service retires it at start-up, with these rights).
DELAY = DELAY_PREFIX.replace(".", r"\.") + r"\.[0-9]+(\.quorum)?"


def _alt(parts: Iterable[str]) -> str:
    return "^(" + "|".join(parts) + ")$"


def _esc(name: str) -> str:
    """Names here are slugs and dots (and the topic wildcard ``#``): escape those only."""
    return name.replace(".", r"\.").replace("#", r"\#")


def password_hash(password: str, salt: bytes | None = None) -> str:
    """rabbit_password_hashing_sha256: base64(salt ++ sha256(salt ++ utf8 password))."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def _user(name: str, tags: list[str], *, from_env: bool) -> dict[str, object]:
    if from_env:
        var = "RABBITMQ_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
        password = os.environ.get(var)
        if not password:
            raise SystemExit(f"{var} is not set (password of RabbitMQ user {name})")
        digest = password_hash(password)
    else:
        digest = password_hash(f"dev-{name}", hashlib.sha256(name.encode()).digest()[:4])
    return {
        "name": name,
        "password_hash": digest,
        "hashing_algorithm": "rabbit_password_hashing_sha256",
        "tags": tags,
        "limits": {},
    }


def _producer_domains() -> dict[str, list[str]]:
    """Service → sorted domains of the events it publishes (first word of the type)."""
    domains: dict[str, set[str]] = {}
    for message, producer in PRODUCER.items():
        domain = message.ce_type().split(".")[2]
        domains.setdefault(producer, set()).add(domain)
    return {producer: sorted(d) for producer, d in domains.items()}


def _topic_pattern(domains: Iterable[str], last: str) -> str:
    """Keys ``<domain>.<event>.v<major>.<last>`` for the given domains."""
    ds = sorted(set(domains))
    return "^(" + "|".join(_esc(d) for d in ds) + r")\.[a-z0-9_]+\.v[0-9]+\." + last + "$"


def _binding_pattern(keys: Iterable[str]) -> str:
    """What a service may bind: ``#`` literally, else any event of the bound domains."""
    keys = sorted(set(keys))
    literal = [_esc(k) for k in keys if k == "#"]
    domains = sorted({k.split(".")[0] for k in keys if k != "#"})
    parts = list(literal)
    if domains:
        parts.append(
            "(" + "|".join(_esc(d) for d in domains) + r")\.[a-z0-9_]+\.v[0-9]+\.(\*|[a-z0-9-]+)"
        )
    return _alt(parts)


def service_permissions(service: str, publishes: bool) -> dict[str, str]:
    own = _esc(service) + r"\.[a-z0-9][a-z0-9.-]*"
    sources = sorted({q.exchange for q in QUEUES.values() if q.service == service})
    configure = [*(_esc(x) for x in SHARED_EXCHANGES), DELAY, own]
    write = [*(_esc(x) for x in (RETRY_EXCHANGE, PARKING_EXCHANGE)), DELAY, own]
    if publishes:
        write.insert(0, _esc(EVENTS_EXCHANGE))
    read = [*(_esc(x) for x in sources), _esc(RETRY_EXCHANGE), _esc(PARKING_EXCHANGE), DELAY, own]
    if service == "notifications":
        # Per-organisation delivery queues deliver.<org> (DESIGN: "their own AMQP queue"),
        # to be fed through a dedicated direct exchange relais.deliver; never through the
        # default exchange, whose write permission would reach every queue of the vhost.
        deliver_q = _esc(DELIVERY_QUEUE_PREFIX) + r"\.[a-z0-9-]+"
        deliver_x = _esc("relais.deliver")
        configure += [deliver_x, deliver_q]
        write += [deliver_x, deliver_q]
        read += [deliver_x]
    return {"configure": _alt(configure), "write": _alt(write), "read": _alt(read)}


def build(
    *, from_env: bool, institutions: Iterable[str], partners: Iterable[str]
) -> dict[str, object]:
    institutions = sorted(set(institutions))
    partners = sorted(set(partners))
    for slug in (*institutions, *partners):
        if not SLUG.match(slug):
            raise SystemExit(f"{slug!r} is not an id slug [a-z0-9-]")
    produced = _producer_domains()
    users: list[dict[str, object]] = []
    permissions: list[dict[str, str]] = []
    topic_permissions: list[dict[str, str]] = []

    def grant(user: str, configure: str, write: str, read: str) -> None:
        permissions.append(
            {"user": user, "vhost": VHOST, "configure": configure, "write": write, "read": read}
        )

    def topic(user: str, exchange: str, write: str, read: str) -> None:
        topic_permissions.append(
            {"user": user, "vhost": VHOST, "exchange": exchange, "write": write, "read": read}
        )

    for service in SERVICES:
        name = f"relais-{service}"
        users.append(_user(name, [], from_env=from_env))
        domains = produced.get(service, [])
        grant(name, **service_permissions(service, publishes=bool(domains)))
        for exchange in (EVENTS_EXCHANGE, INTAKE_EXCHANGE):
            keys = [
                k
                for q in QUEUES.values()
                if q.service == service and q.exchange == exchange
                for k in q.binding_keys
            ]
            write = (
                _topic_pattern(domains, "[a-z0-9-]+")
                if exchange == EVENTS_EXCHANGE and domains
                else "^$"
            )
            read = _binding_pattern(keys) if keys else "^$"
            topic(name, exchange, write, read)

    users.append(_user("relais-operator", ["management"], from_env=from_env))
    grant("relais-operator", "^$", _alt([_esc(RETRY_EXCHANGE)]), r"^[a-z0-9-]+\.[a-z0-9-]+\.dlq$")

    users.append(_user("relais-admin", ["administrator"], from_env=from_env))
    grant("relais-admin", ".*", ".*", ".*")

    for inst in institutions:
        name = f"inst-{inst}"
        users.append(_user(name, [], from_env=from_env))
        grant(name, "^$", _alt([_esc(INTAKE_EXCHANGE)]), "^$")
        topic(name, INTAKE_EXCHANGE, _alt([r"referral\.submit\.v1\." + _esc(inst)]), "^$")

    for org in partners:
        name = f"partner-{org}"
        users.append(_user(name, [], from_env=from_env))
        grant(name, "^$", "^$", _alt([_esc(f"{DELIVERY_QUEUE_PREFIX}.{org}")]))

    exchanges = [
        _exchange(EVENTS_EXCHANGE, "topic"),
        _exchange(INTAKE_EXCHANGE, "topic"),
        _exchange(RETRY_EXCHANGE, "direct"),
        _exchange(PARKING_EXCHANGE, "direct"),
        *(_exchange(f"{DELAY_PREFIX}.{d}", "fanout") for d in DEFAULT_DELAYS_MS),
    ]
    policies = [
        {
            # A partner that stops reading must not fill the broker's disk: its delivery
            # queue refuses new messages beyond 100 MB / 100k messages (notifications sees
            # the nack and records notification.failed); nothing is dropped silently.
            "vhost": VHOST,
            "name": "deliver-bounded",
            "pattern": r"^" + _esc(DELIVERY_QUEUE_PREFIX) + r"\.",
            "apply-to": "queues",
            "priority": 0,
            "definition": {
                "max-length": 100_000,
                "max-length-bytes": 100_000_000,
                "overflow": "reject-publish",
            },
        }
    ]
    return {
        "rabbit_version": "3.10.8",
        "rabbitmq_version": "3.10.8",
        "product_name": "RabbitMQ",
        "users": users,
        "vhosts": [
            {
                "name": VHOST,
                "description": "Relais: relais.events, relais.intake, retries and parking",
                "tags": [],
            }
        ],
        "permissions": permissions,
        "topic_permissions": topic_permissions,
        "parameters": [],
        "global_parameters": [],
        "policies": policies,
        # Queues, their bindings and the delay queues are declared by the services at
        # start-up (quorum, x-delivery-limit, dead-lettering): never pre-declared here.
        "queues": [],
        "exchanges": exchanges,
        "bindings": [],
    }


def _exchange(name: str, kind: str) -> dict[str, object]:
    return {
        "name": name,
        "vhost": VHOST,
        "type": kind,
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }


def render(data: dict[str, object]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 if {OUTPUT.name} differs from what would be generated",
    )
    parser.add_argument(
        "--passwords-from-env",
        action="store_true",
        help="passwords from RABBITMQ_PASSWORD_<USER> (e.g. "
        "RABBITMQ_PASSWORD_RELAIS_PARCOURS), random salts",
    )
    parser.add_argument(
        "--institution",
        action="append",
        default=None,
        metavar="ID",
        help="add an inst-<ID> intake user (repeatable; default: demo)",
    )
    parser.add_argument(
        "--partner",
        action="append",
        default=None,
        metavar="ORG",
        help="add a partner-<ORG> delivery user (repeatable; default: demo)",
    )
    args = parser.parse_args(argv)
    data = build(
        from_env=args.passwords_from_env,
        institutions=DEMO_INSTITUTIONS if args.institution is None else args.institution,
        partners=DEMO_PARTNERS if args.partner is None else args.partner,
    )
    text = render(data)
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT} is out of date: run\n  uv run python {Path(__file__).as_posix()}"
                f" > {OUTPUT.as_posix()}",
                file=sys.stderr,
            )
            return 1
        print(f"{OUTPUT.name} is up to date")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
