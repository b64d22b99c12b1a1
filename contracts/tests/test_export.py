"""The exporter: files, determinism, check, refusal of breaking changes, the AsyncAPI shape."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from relais_contracts import CONTRACT_VERSION, _yaml
from relais_contracts.catalogue import ALL_MESSAGES, PRODUCER, messages_for_queue, parse_cloudevent
from relais_contracts.export import (
    ASYNCAPI_FILE,
    _rendered,
    asyncapi_document,
    check,
    example_event,
    export,
    main,
    message_key,
    message_schema,
    queue_key,
    render,
    schema_path,
)
from relais_contracts.topology import QUEUES
from relais_contracts.v1.parcours import SituationOpened


# Rendering every schema and the AsyncAPI costs a third of a second: the tests that only
# read the output share one export, those that change files work on a copy of it.
@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exported")
    assert export(out)  # a first run writes everything
    return out


@pytest.fixture
def copy_of_export(exported: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(exported, tmp_path / "docs"))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return asyncapi_document()


def test_export_writes_a_schema_per_message_the_envelope_and_the_asyncapi(exported: Path) -> None:
    names = sorted(p.name for p in (exported / "schemas").iterdir())
    expected = sorted(
        [f"{m.message_type}.v1.json" for m in ALL_MESSAGES]
        + ["cloudevent.json", "notification.delivery.v1.json"]
    )
    assert names == expected
    assert (exported / ASYNCAPI_FILE).is_file()


def test_a_schema_file_is_the_cloudevent_schema_with_the_message_schema_id(
    exported: Path,
) -> None:
    schema = json.loads((exported / "schemas/situation.opened.v1.json").read_text())
    assert schema["$id"] == SituationOpened.schema_id()
    assert schema["properties"]["type"]["const"] == "fr.relais.situation.opened.v1"
    assert schema["properties"]["data"] == {"$ref": "#/$defs/SituationOpened"}
    assert "tenant" in schema["required"]


def test_export_is_deterministic(copy_of_export: Path) -> None:
    # render() is cached for the process: render afresh, every byte the same.
    assert _rendered.__wrapped__() == render()
    assert export(copy_of_export) == []  # a second run changes nothing
    assert check(copy_of_export) == []


def test_check_reports_missing_changed_and_stale_files(tmp_path: Path, exported: Path) -> None:
    assert check(tmp_path)  # nothing written yet
    out = Path(shutil.copytree(exported, tmp_path / "docs"))
    (out / "schemas/plan.updated.v1.json").write_text("{}\n")
    (out / "schemas/retired.thing.v1.json").write_text("{}\n")
    (out / ASYNCAPI_FILE).unlink()
    problems = check(out)
    assert "schemas/plan.updated.v1.json: out of date" in problems
    assert "schemas/retired.thing.v1.json: no message produces it" in problems
    assert f"{ASYNCAPI_FILE}: missing" in problems


def test_check_command_fails_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "relais-contracts export" in err
    assert "missing" in err


def test_export_refuses_to_break_a_published_schema(
    copy_of_export: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = copy_of_export / schema_path(SituationOpened)
    schema = json.loads(published.read_text())
    # Pretend v1 was published with a field the current model no longer has.
    schema["$defs"]["SituationOpened"]["properties"]["school_year"] = {"type": "string"}
    published.write_text(json.dumps(schema))
    assert main(["export", "--out", str(copy_of_export)]) == 1
    assert "school_year" in capsys.readouterr().err
    assert json.loads(published.read_text()) == schema  # nothing was overwritten
    assert main(["export", "--out", str(copy_of_export), "--force"]) == 0


def test_help_describes_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "export" in out
    assert "check" in out


def test_list_prints_every_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(m.ce_type() in out for m in ALL_MESSAGES)


def test_contract_version_matches_the_package_metadata() -> None:
    assert importlib.metadata.version("relais-contracts") == CONTRACT_VERSION


@pytest.mark.parametrize("message", [pytest.param(m, id=m.message_type) for m in ALL_MESSAGES])
def test_the_example_envelope_of_each_message_parses(message: Any) -> None:
    event = parse_cloudevent(json.dumps(example_event(message)))
    assert isinstance(event.data, message)


def test_message_schemas_validate_their_examples_with_a_json_schema_validator() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for message in ALL_MESSAGES:
        schema = message_schema(message)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(example_event(message))


# --- the AsyncAPI document --------------------------------------------------------------


def test_asyncapi_is_version_3_with_the_dev_server(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["servers"]["dev"]["host"] == "127.0.0.1:5672"
    assert doc["servers"]["dev"]["protocol"] == "amqp"


def test_asyncapi_has_a_channel_and_a_send_operation_per_message(doc: dict[str, Any]) -> None:
    bindings = doc["components"]["channelBindings"]
    for message in ALL_MESSAGES:
        key = message_key(message)
        channel = doc["channels"][key]
        param = "institutionId" if message.kind == "command" else "preId"
        assert channel["address"] == f"{message.routing_prefix()}.{{{param}}}"
        assert param in channel["parameters"]
        exchange = bindings[channel["bindings"]["$ref"].rsplit("/", 1)[1]]["amqp"]["exchange"]
        assert exchange["type"] == "topic"
        assert exchange["durable"] is True
        send = doc["operations"]["send" + key[0].upper() + key[1:]]
        assert send["action"] == "send"
        assert send["tags"] == [{"name": PRODUCER[message]}]
        payload = doc["components"]["messages"][key]
        assert payload["contentType"] == "application/cloudevents+json"


def test_asyncapi_has_a_receive_operation_per_queue(doc: dict[str, Any]) -> None:
    receives = [op for op in doc["operations"].values() if op["action"] == "receive"]
    assert len(receives) == len(QUEUES)
    for queue in QUEUES:
        channel = doc["channels"][queue_key(queue)]
        assert channel["address"] == queue
        assert channel["bindings"]["amqp"]["queue"]["durable"] is True
        assert set(channel["messages"]) == {message_key(m) for m in messages_for_queue(queue)}


def test_asyncapi_references_all_resolve(doc: dict[str, Any]) -> None:

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert isinstance(node, dict), ref


def test_asyncapi_yaml_reads_back_as_the_document(exported: Path, doc: dict[str, Any]) -> None:
    yaml = pytest.importorskip("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: ten times faster
    text = (exported / ASYNCAPI_FILE).read_text(encoding="utf-8")
    assert yaml.load(text, Loader=loader) == json.loads(json.dumps(doc))


# --- the YAML writer ---------------------------------------------------------------------


def test_yaml_writer_quotes_what_yaml_would_misread() -> None:
    text = _yaml.dump(
        {
            "plain": "relais.events",
            "version": "3.0.0",
            "word": "yes",
            "ref": "#/components/x",
            "colon": "a: b",
            "accent": "référent",
            "number": 5672,
            "flag": True,
            "nothing": None,
            "empty": {},
            "none": [],
        }
    )
    assert text == (
        "plain: relais.events\n"
        'version: "3.0.0"\n'
        'word: "yes"\n'
        'ref: "#/components/x"\n'
        'colon: "a: b"\n'
        'accent: "référent"\n'
        "number: 5672\n"
        "flag: true\n"
        "nothing: null\n"
        "empty: {}\n"
        "none: []\n"
    )


def test_yaml_writer_nests_lists_and_mappings() -> None:
    text = _yaml.dump({"a": [{"b": 1, "c": [2, 3]}, "d", [4]], "e": {"f": "two\nlines"}})
    assert text == (
        "a:\n"
        "  - b: 1\n"
        "    c:\n"
        "      - 2\n"
        "      - 3\n"
        "  - d\n"
        "  - - 4\n"
        "e:\n"
        "  f: |-\n"
        "    two\n"
        "    lines\n"
    )


def test_yaml_writer_round_trips_through_a_yaml_parser() -> None:
    yaml = pytest.importorskip("yaml")
    data = {
        "text": "line one\n\nline three",
        "trailing": "ends with newline\n",
        "control": "tab\there\u2028",
        "keys": {"{preId}": "x", "$ref": "y", "1": "z"},
        "nested": [[1, [2]], {"k": []}],
        "unicode": "épanouissement",
    }
    assert yaml.safe_load(_yaml.dump(data)) == data
