"""The payload codec and the customer hash alone (no server): what each rule of orchestrator/codec.py buys."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from orchestrator import codec
from orchestrator.trip_list import list_query
from orchestrator.worker import workflow_runner
from orchestrator.workflows import TripWorkflow
from tests.orchestrator.stack import HISTORIES

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"customer_id": "alice"}')


def keys(*entries: str) -> list[codec.CodecKey]:
    return codec.parse_keys(",".join(entries))


OLD = codec.new_key_entry("k1")
NEW = codec.new_key_entry("k2")


async def test_payloads_are_sealed_under_the_first_key_and_named_by_it() -> None:
    sealed = await codec.EncryptionCodec(keys(NEW, OLD)).encode([PLAIN])
    assert sealed[0].metadata["encoding"] == codec.ENCODING
    assert sealed[0].metadata[codec.METADATA_KEY_ID] == b"k2"
    assert b"alice" not in sealed[0].SerializeToString()
    assert await codec.EncryptionCodec(keys(NEW, OLD)).decode(sealed) == [PLAIN]


async def test_every_key_decrypts_so_keys_rotate() -> None:
    sealed_with_old = await codec.EncryptionCodec(keys(OLD)).encode([PLAIN])
    assert await codec.EncryptionCodec(keys(NEW, OLD)).decode(sealed_with_old) == [PLAIN]
    with pytest.raises(codec.UnknownKeyError):
        await codec.EncryptionCodec(keys(NEW)).decode(sealed_with_old)


async def test_a_payload_from_before_the_codec_passes_through() -> None:
    assert await codec.EncryptionCodec(keys(OLD)).decode([PLAIN]) == [PLAIN]


async def test_a_tampered_payload_or_a_swapped_key_id_is_refused() -> None:
    sealed = (await codec.EncryptionCodec(keys(OLD, NEW)).encode([PLAIN]))[0]
    flipped = Payload()
    flipped.CopyFrom(sealed)
    flipped.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(InvalidTag):
        await codec.EncryptionCodec(keys(OLD, NEW)).decode([flipped])
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[codec.METADATA_KEY_ID] = b"k2"  # key id is bound as associated data
    with pytest.raises(InvalidTag):
        await codec.EncryptionCodec(keys(OLD, NEW)).decode([relabelled])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no key"),
        ("k1", "key_id:base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
        ("k1:not base64!", "base64"),
        (f"{OLD},{OLD}", "twice"),
        ("bad id!:" + base64.b64encode(bytes(32)).decode(), "key_id"),
    ],
)
def test_bad_keys_stop_the_process(text: str, message: str) -> None:
    with pytest.raises(codec.CodecConfigError, match=message):
        codec.parse_keys(text)


def test_unset_keys_install_nothing() -> None:
    assert codec.from_env({}) is None
    protection = codec.from_env({codec.ENV_KEYS: OLD})
    assert protection is not None and protection.data_converter.payload_codec is protection.codec


def test_the_customer_attribute_is_a_keyed_hash_searched_under_every_key() -> None:
    hasher = codec.CustomerHasher(keys(NEW, OLD))
    current = hasher.current("alice")
    assert "alice" not in current and current.startswith("k2.")
    assert hasher.every("alice") == [current, codec.CustomerHasher(keys(OLD)).current("alice")]
    assert codec.CustomerHasher(keys(codec.new_key_entry("k2"))).current("alice") != current
    query = list_query("alice", None, hasher)
    assert "alice" not in query and all(value in query for value in hasher.every("alice"))
    assert "TripCustomerId = 'alice'" in list_query("alice", None)


RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_histories_recorded_before_the_codec_replay_with_it(name: str) -> None:
    protection = codec.from_env({codec.ENV_KEYS: OLD})
    assert protection is not None
    history = WorkflowHistory.from_json(f"replay-{name}", RECORDED[name])
    replayer = Replayer(
        workflows=[TripWorkflow], workflow_runner=workflow_runner(), data_converter=protection.data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
