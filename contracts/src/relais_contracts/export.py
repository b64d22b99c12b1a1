"""``relais-contracts``: write or check the JSON Schemas and the AsyncAPI document.

The files under ``docs/`` are generated from the pydantic models and committed, so that
partners can read the contract without Python and so that a review shows every change
to the wire. ``check`` (run by the test suite) fails when they are out of date; ``export``
refuses to overwrite a published schema with an incompatible one.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from relais_contracts import CONTRACT_VERSION, _yaml
from relais_contracts.base import SCHEMA_BASE_URL, Message
from relais_contracts.catalogue import (
    ALL_MESSAGES,
    PRODUCER,
    consumers_of,
    exchange_of,
    messages_for_queue,
    source_of,
)
from relais_contracts.compat import find_incompatibilities
from relais_contracts.delivery import DELIVERY_SCHEMA_FILE, DELIVERY_SCHEMA_ID, NotificationDelivery
from relais_contracts.envelope import CloudEvent, envelope_model, new_event
from relais_contracts.topology import CLOUDEVENTS_CONTENT_TYPE, QUEUES

SCHEMAS_DIR = "schemas"
ASYNCAPI_FILE = "asyncapi.yaml"
CLOUDEVENT_SCHEMA_FILE = "cloudevent.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
AMQP_BINDING_VERSION = "0.3.0"
DEV_SERVER = "127.0.0.1:5672"
EXAMPLE_PRE = "pre-76540"


class ExportError(Exception):
    """Export refused: writing would break a published schema."""


# --- JSON Schemas -------------------------------------------------------------------------


def schema_path(message: type[Message]) -> str:
    """Path of a message's schema relative to the docs directory."""
    return f"{SCHEMAS_DIR}/{message.message_type}.v{message.version}.json"


def message_schema(message: type[Message]) -> dict[str, Any]:
    """JSON Schema of ``CloudEvent[message]``, identified by ``message.schema_id()``.

    ``type`` and ``dataschema`` are pinned to the message's values, so a validator also
    catches an envelope whose data does not match its declared type.
    """
    schema = envelope_model(message).model_json_schema()
    props = schema["properties"]
    props["type"] = {**props["type"], "const": message.ce_type()}
    props["dataschema"] = {**props["dataschema"], "const": message.schema_id()}
    schema["title"] = f"{message.message_type} v{message.version}"
    normalised: dict[str, Any] = _normalise(
        {"$schema": JSON_SCHEMA_DIALECT, "$id": message.schema_id(), **schema}
    )
    return normalised


def cloudevent_schema() -> dict[str, Any]:
    """JSON Schema of the envelope with any ``data``: what every message has in common."""
    schema = CloudEvent[dict[str, Any]].model_json_schema()
    schema["title"] = "Relais CloudEvent"
    schema_id = f"{SCHEMA_BASE_URL}/{CLOUDEVENT_SCHEMA_FILE}"
    normalised: dict[str, Any] = _normalise(
        {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_id, **schema}
    )
    return normalised


def delivery_schema() -> dict[str, Any]:
    """JSON Schema of what a webhook or a ``deliver.<org>`` queue receives."""
    schema = NotificationDelivery.model_json_schema()
    schema["title"] = "Relais notification delivery v1"
    normalised: dict[str, Any] = _normalise(
        {"$schema": JSON_SCHEMA_DIALECT, "$id": DELIVERY_SCHEMA_ID, **schema}
    )
    return normalised


def _normalise(node: Any) -> Any:
    """Sort keys (and ``required``), so reordering fields in code changes no file."""
    if isinstance(node, Mapping):
        is_schema = "properties" in node
        return {
            key: (
                sorted(value)
                if key == "required" and is_schema and isinstance(value, list)
                else _normalise(value)
            )
            for key, value in sorted(node.items())
        }
    if isinstance(node, list):
        return [_normalise(item) for item in node]
    return node


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --- AsyncAPI -----------------------------------------------------------------------------


def _camel(*words: str) -> str:
    parts = [p for w in words for p in w.replace("-", ".").replace("_", ".").split(".") if p]
    return parts[0].lower() + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def message_key(message: type[Message]) -> str:
    """Id of a message and of its channel in the AsyncAPI document, e.g. ``referralSubmittedV1``."""
    return _camel(message.message_type, f"v{message.version}")


def queue_key(queue: str) -> str:
    """Id of a queue's channel in the AsyncAPI document, e.g. ``referralIntakeQueue``."""
    return _camel(queue, "queue")


def _envelope_key(message: type[Message]) -> str:
    key = message_key(message)
    return f"{key[:1].upper()}{key[1:]}Envelope"


def _doc(message: type[Message]) -> tuple[str, str]:
    """Summary (first paragraph, one line) and description (the rest) of the docstring."""
    text = (message.__doc__ or "").strip()
    first, _, rest = text.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def example_event(message: type[Message]) -> dict[str, Any]:
    """A complete, valid envelope around the message's first example (deterministic)."""
    examples = message.model_json_schema().get("examples") or []
    if not examples:
        raise ValueError(f"{message.__name__} has no json_schema_extra example")
    data = message.model_validate(examples[0])
    event_id = uuid.uuid5(uuid.NAMESPACE_URL, message.schema_id())
    institution = getattr(data, "institution_id", None)
    event = new_event(
        data,
        source=source_of(message, institution),
        subject=data.ce_subject() or str(event_id),
        tenant=getattr(data, "tenant", EXAMPLE_PRE),
        sequence=1,
        event_id=event_id,
        time=datetime(2026, 10, 5, 8, 30, tzinfo=UTC),
    )
    return dict(event.model_dump(mode="json"))


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {
            key: (
                value.replace("#/$defs/", "#/components/schemas/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _hoisted_schemas(messages: Iterable[type[Message]]) -> dict[str, Any]:
    """Every envelope and its ``$defs`` as ``components/schemas``, refs rewritten."""
    schemas: dict[str, Any] = {}
    for message in messages:
        schema = message_schema(message)
        defs = schema.pop("$defs", {})
        for drop in ("$schema", "$id"):  # an embedded $id would rebase the refs inside
            schema.pop(drop)
        schema["description"] = f"CloudEvent carrying {message.__name__}; {message.schema_id()}"
        for name, definition in [*defs.items(), (_envelope_key(message), schema)]:
            definition = _rewrite_refs(definition)
            if schemas.setdefault(name, definition) != definition:
                raise ExportError(
                    f"two different schemas are named {name!r} (a v2 model reusing a v1 class "
                    f"name?): give the new class a distinct name"
                )
    return dict(sorted(schemas.items()))


def _routing_parameter(message: type[Message]) -> str:
    return "institutionId" if message.kind == "command" else "preId"


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the whole backbone."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}

    for message in ALL_MESSAGES:
        key = message_key(message)
        summary, description = _doc(message)
        producer = PRODUCER[message]
        exchange = exchange_of(message)
        param = _routing_parameter(message)
        queues = consumers_of(message)
        messages[key] = {
            "name": f"{message.message_type}.v{message.version}",
            "title": f"{message.message_type} v{message.version}",
            "summary": summary,
            **({"description": description} if description else {}),
            "contentType": CLOUDEVENTS_CONTENT_TYPE,
            "payload": {"$ref": f"#/components/schemas/{_envelope_key(message)}"},
            "correlationId": {"$ref": "#/components/correlationIds/correlationid"},
            "tags": [{"name": message.kind}],
            "bindings": {
                "amqp": {"messageType": message.ce_type(), "bindingVersion": AMQP_BINDING_VERSION}
            },
            "examples": [{"name": "example", "payload": example_event(message)}],
        }
        channels[key] = {
            "address": f"{message.routing_prefix()}.{{{param}}}",
            "title": f"{message.message_type} v{message.version}",
            "summary": summary,
            "description": (
                f"Routing key on `{exchange}`; published by `{producer}`; received by "
                + (", ".join(f"`{q}`" for q in queues) or "no service queue")
                + "."
            ),
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "parameters": {param: {"$ref": f"#/components/parameters/{param}"}},
            "bindings": {"$ref": f"#/components/channelBindings/{_camel(exchange)}"},
        }
        operations[_camel("send", key)] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "title": f"{producer} sends {message.message_type} v{message.version}",
            "summary": summary,
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "tags": [{"name": producer}],
            "bindings": {"$ref": "#/components/operationBindings/publish"},
        }

    for queue, spec in QUEUES.items():
        key = queue_key(queue)
        received = [message_key(m) for m in messages_for_queue(queue)]
        channels[key] = {
            "address": queue,
            "title": f"{queue} (queue)",
            "summary": spec.description,
            "description": (
                f"Durable quorum queue of `{spec.service}`, bound to `{spec.exchange}` with "
                + ", ".join(f"`{k}`" for k in spec.binding_keys)
                + "; parks failed messages in `"
                + f"{queue}.dlq`."
            ),
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in received},
            "bindings": {
                "amqp": {
                    "is": "queue",
                    "queue": {
                        "name": queue,
                        "durable": True,
                        "exclusive": False,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": AMQP_BINDING_VERSION,
                }
            },
            "x-relais-bindings": {"exchange": spec.exchange, "keys": list(spec.binding_keys)},
        }
        operations[_camel("receive", queue)] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "title": f"{spec.service} consumes {queue}",
            "summary": spec.description,
            "messages": [{"$ref": f"#/channels/{key}/messages/{m}"} for m in received],
            "tags": [{"name": spec.service}],
            "bindings": {"$ref": "#/components/operationBindings/consume"},
        }

    exchanges = sorted({exchange_of(m) for m in ALL_MESSAGES})
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Relais message backbone",
            "version": CONTRACT_VERSION,
            "description": _INFO_DESCRIPTION,
        },
        "defaultContentType": CLOUDEVENTS_CONTENT_TYPE,
        "servers": {
            "dev": {
                "host": DEV_SERVER,
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "Local RabbitMQ for development (guest/guest).",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": _hoisted_schemas(ALL_MESSAGES),
            "messages": messages,
            "parameters": {
                "preId": {
                    "description": "The PRE (tenant), e.g. `pre-76540`. Bind `*` for all PRE.",
                    "examples": [EXAMPLE_PRE],
                },
                "institutionId": {
                    "description": "The sending institution; the broker lets an institution's "
                    "user write only its own key.",
                    "examples": ["ecole-jules-ferry"],
                },
            },
            "correlationIds": {
                "correlationid": {
                    "description": "Id of the first command of the flow (CloudEvents extension).",
                    "location": "$message.payload#/correlationid",
                }
            },
            "channelBindings": {
                _camel(exchange): {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": exchange,
                            "type": "topic",
                            "durable": True,
                            "autoDelete": False,
                            "vhost": "/",
                        },
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                }
                for exchange in exchanges
            },
            "operationBindings": {
                "publish": {
                    "amqp": {
                        "deliveryMode": 2,
                        "mandatory": True,
                        "timestamp": True,
                        "bindingVersion": AMQP_BINDING_VERSION,
                    }
                },
                "consume": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
            },
        },
    }


_INFO_DESCRIPTION = """\
Events and commands exchanged by the Relais services (referral, parcours, notifications,
reporting) and by integrated institutions, generated from `relais-contracts`.

- Every message is a CloudEvents 1.0 event in structured JSON mode
  (`application/cloudevents+json`), with the extensions `tenant` (the PRE),
  `correlationid`, `causationid` and `sequence`, and the distributed-tracing extension
  (`traceparent`, `tracestate`: the W3C trace context of the emitting step, optional).
- Routing key: `<domain>.<event>.v<major>.<pre_id>` on `relais.events`;
  commands use `<domain>.<command>.v<major>.<institution_id>` on `relais.intake`.
- No message carries a name, birth date, address, phone, email or free-text note: the
  child is a pseudonymous `subject_id`; identity travels only inside `sealed` (a JWE).
- A new optional field or enum value is a minor change; anything else is a new major
  published beside the old one.
- Outside organisations never bind to `relais.events`: they are served by notifications
  (webhook, email, feed, or their own queue `deliver.<org_id>`)."""


# --- files --------------------------------------------------------------------------------


def render() -> dict[str, str]:
    """Every generated file, path relative to the docs directory -> content."""
    return dict(_rendered())


@cache
def _rendered() -> dict[str, str]:
    # A pure function of the models, which do not change in a process: render once (0.3 s;
    # export, check and the breaking-change guard each asked for it again).
    files = {schema_path(m): _json_text(message_schema(m)) for m in ALL_MESSAGES}
    files[f"{SCHEMAS_DIR}/{CLOUDEVENT_SCHEMA_FILE}"] = _json_text(cloudevent_schema())
    files[f"{SCHEMAS_DIR}/{DELIVERY_SCHEMA_FILE}"] = _json_text(delivery_schema())
    files[ASYNCAPI_FILE] = _yaml.dump(asyncapi_document())
    return files


def breaking_changes(out: Path) -> list[str]:
    """Incompatibilities between the published schemas in ``out`` and the current models."""
    problems: list[str] = []
    for message in ALL_MESSAGES:
        path = out / schema_path(message)
        if path.exists():
            published = json.loads(path.read_text(encoding="utf-8"))
            problems += [
                f"{schema_path(message)}: {p}"
                for p in find_incompatibilities(published, message_schema(message))
            ]
    return problems


def export(out: Path, *, force: bool = False) -> list[Path]:
    """Write the generated files under ``out``; returns the files that changed."""
    problems = [] if force else breaking_changes(out)
    if problems:
        raise ExportError(
            "incompatible change to a published schema; publish a new major version instead:\n  "
            + "\n  ".join(problems)
        )
    changed: list[Path] = []
    for relative, content in render().items():
        path = out / relative
        if path.exists() and path.read_text(encoding="utf-8") == content:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        changed.append(path)
    return changed


def stale_files(out: Path, expected: Iterable[str]) -> list[str]:
    """Schema files in ``out`` that no current message produces."""
    folder = out / SCHEMAS_DIR
    if not folder.is_dir():
        return []
    known = set(expected)
    return sorted(
        f"{SCHEMAS_DIR}/{p.name}"
        for p in folder.glob("*.json")
        if f"{SCHEMAS_DIR}/{p.name}" not in known
    )


def check(out: Path) -> list[str]:
    """Why the files in ``out`` differ from what ``export`` would write (empty: up to date)."""
    files = render()
    problems: list[str] = []
    for relative, content in files.items():
        path = out / relative
        if not path.exists():
            problems.append(f"{relative}: missing")
        elif path.read_text(encoding="utf-8") != content:
            problems.append(f"{relative}: out of date")
    problems += [f"{name}: no message produces it" for name in stale_files(out, files)]
    return problems


# --- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais-contracts",
        description="Relais wire contract: export or check the JSON Schemas of every message "
        "and the AsyncAPI document of the broker topology.",
        epilog="Run `relais-contracts export` after changing a model and commit docs/; the "
        "tests run `check`. A change that breaks a published v1 schema is refused: add a v2.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    out_help = "docs directory holding schemas/ and asyncapi.yaml (default: %(default)s)"

    export_cmd = commands.add_parser(
        "export",
        help="write docs/schemas/*.json and docs/asyncapi.yaml",
        description="Write <out>/schemas/<type>.v<major>.json for every message, "
        "<out>/schemas/cloudevent.json and <out>/asyncapi.yaml. Files that would not change "
        "are left alone.",
    )
    export_cmd.add_argument("--out", type=Path, default=Path("docs"), help=out_help)
    export_cmd.add_argument(
        "--force",
        action="store_true",
        help="overwrite published schemas even when the change is incompatible "
        "(only for a message no one consumes yet)",
    )

    check_cmd = commands.add_parser(
        "check",
        help="fail if the files on disk differ from what export would write",
        description="Exit 1, listing the files, when the generated files are missing, out "
        "of date or stale.",
    )
    check_cmd.add_argument("--out", type=Path, default=Path("docs"), help=out_help)

    commands.add_parser(
        "list",
        help="print every message: type, routing key, producer, consumers",
        description="Print the catalogue, one message per line.",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "export":
        try:
            changed = export(args.out, force=args.force)
        except ExportError as exc:
            print(f"relais-contracts: {exc}", file=sys.stderr)
            return 1
        for path in changed:
            print(f"wrote {path}")
        for name in stale_files(args.out, render()):
            print(f"warning: {args.out / name} matches no message; delete it if retired")
        if not changed:
            print("up to date")
        return 0
    if args.command == "check":
        problems = check(args.out)
        if problems:
            print(
                "relais-contracts: generated files differ from the models; "
                "run `uv run relais-contracts export` and commit:\n  " + "\n  ".join(problems),
                file=sys.stderr,
            )
            return 1
        print(f"{args.out}: up to date ({len(ALL_MESSAGES)} messages)")
        return 0
    for message in ALL_MESSAGES:
        param = "<institution_id>" if message.kind == "command" else "<pre_id>"
        consumers = ", ".join(consumers_of(message)) or "-"
        print(
            f"{message.ce_type():45} {exchange_of(message)}  {message.routing_prefix()}.{param}"
            f"  by {PRODUCER[message]}  to {consumers}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
