"""``relais keys retire-pre``: a PRE's previous private key is destroyed only once no
parked or travelling message is sealed to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aio_pika
import pytest

from relais_contracts.topology import PARKING_EXCHANGE
from relais_runtime.parking import ParkingLot
from relais_runtime.runtime import work_queues
from relais_runtime.sealing import generate_pre_key, seal
from relais_runtime.topology import declare_topology

pytestmark = pytest.mark.integration

PRE = "pre-76540"
QUEUE = "parcours.referrals"


def relais(amqp_url: str, keys_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from relais_runtime.cli import main; main()",
            "keys",
            "retire-pre",
            PRE,
            "--dir",
            str(keys_dir),
            "--amqp-url",
            amqp_url,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_old_key_is_kept_while_a_parked_message_is_sealed_to_it(
    own_vhost: str, tmp_path: Path
) -> None:
    # Its own vhost: the command counts every message in transit on parcours.referrals, and
    # the suite's shared vhost holds what other runtime tests left there.
    amqp_url = own_vhost
    await declare_topology(amqp_url, work_queues([QUEUE]), delays_ms=[200], delivery_limit=5)
    old = generate_pre_key(tmp_path, PRE)
    new = generate_pre_key(tmp_path, PRE)  # the rotation: the old private key kept aside
    old_file = tmp_path / f"{PRE}.private.{old.kid}.jwk.json"
    assert old_file.exists()
    body = {"type": "fr.relais.referral.submitted.v1", "data": {"sealed": seal({"a": 1}, old)}}
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        parking = await channel.get_exchange(PARKING_EXCHANGE)
        await parking.publish(
            aio_pika.Message(json.dumps(body).encode(), message_id="sealed-to-old"),
            routing_key=QUEUE,
            mandatory=True,
        )

    kept = relais(amqp_url, tmp_path, "--yes")

    assert kept.returncode == 1, kept.stdout + kept.stderr
    assert "parcours.referrals.dlq: 1 message(s) sealed to an old key" in kept.stderr
    assert old_file.exists()

    await ParkingLot(amqp_url).purge(QUEUE, "sealed-to-old")
    dry = relais(amqp_url, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert f"would destroy (--yes): {old.kid}" in dry.stdout
    assert old_file.exists()

    gone = relais(amqp_url, tmp_path, "--yes")

    assert gone.returncode == 0, gone.stderr
    assert f"old keys destroyed: {old.kid}" in gone.stdout
    assert not old_file.exists()
    current = json.loads((tmp_path / f"{PRE}.private.jwk.json").read_text())
    assert current["kid"] == new.kid
