"""Personal data out of Temporal: an AES-256-GCM payload codec and a keyed hash for the customer id.

`TRIP_CODEC_KEYS` is `key_id:base64-of-32-bytes[,key_id:...]`. The first key encrypts; every key
decrypts, so a key is rotated by putting a new one first and dropping the old one only once no open
trip's history still needs it. Each encrypted payload names its key in its metadata
(`encryption-key-id`), and a payload without our encoding passes through untouched, so histories
recorded before the codec was turned on still replay. Failure messages and stack traces are moved
into an encoded payload (the SDK's `DefaultFailureConverterWithEncodedAttributes`).

The `TripCustomerId` search attribute cannot be encrypted (the server indexes it), so it holds
`<key_id>.<HMAC-SHA256 of the id>` instead; a search asks for the hash under every key, so trips
indexed before a rotation are still found. Unset `TRIP_CODEC_KEYS`: no codec, no hash, no cost.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

ENV_KEYS = "TRIP_CODEC_KEYS"
ENCODING = b"binary/encrypted"
METADATA_KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Domain separation: the search-attribute hash key is derived from, never equal to, the AES key.
_HASH_LABEL = b"tripbooking customer search attribute v1"


class CodecConfigError(ValueError):
    """TRIP_CODEC_KEYS is malformed (the process refuses to start)."""


class UnknownKeyError(ValueError):
    """A payload was encrypted with a key this process does not hold."""


@dataclass(frozen=True)
class CodecKey:
    key_id: str
    secret: bytes  # 32 bytes

    def hash_key(self) -> bytes:
        return hmac.new(self.secret, _HASH_LABEL, hashlib.sha256).digest()


def parse_keys(text: str) -> list[CodecKey]:
    """`id:base64,id:base64` -> keys, first one first; refuses short keys, bad ids and duplicates."""
    keys: list[CodecKey] = []
    for part in (item.strip() for item in text.split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise CodecConfigError(f"{ENV_KEYS}: each entry is key_id:base64 (key id [A-Za-z0-9_.-])")
        try:
            secret = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise CodecConfigError(f"{ENV_KEYS}: key {key_id!r} is not valid base64") from None
        if len(secret) != 32:
            raise CodecConfigError(f"{ENV_KEYS}: key {key_id!r} must be 32 bytes, not {len(secret)}")
        if any(key.key_id == key_id for key in keys):
            raise CodecConfigError(f"{ENV_KEYS}: key id {key_id!r} appears twice")
        keys.append(CodecKey(key_id, secret))
    if not keys:
        raise CodecConfigError(f"{ENV_KEYS} holds no key")
    return keys


def new_key_entry(key_id: str) -> str:
    """A fresh `key_id:base64` entry for TRIP_CODEC_KEYS (used by the secure stack and the docs)."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole serialized payload (metadata and data), key id as associated data."""

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        if not keys:
            raise CodecConfigError("EncryptionCodec needs at least one key")
        self._encrypt_id = keys[0].key_id
        self._encrypt_id_bytes = keys[0].key_id.encode()
        self._ciphers = {key.key_id.encode(): AESGCM(key.secret) for key in keys}

    def encode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._encrypt_id_bytes]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._encrypt_id_bytes)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, METADATA_KEY_ID: self._encrypt_id_bytes},
                    data=nonce + sealed,
                )
            )
        return encoded

    def decode_sync(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before the codec, or not ours: as it is
                continue
            key_id = payload.metadata.get(METADATA_KEY_ID, b"")
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise UnknownKeyError(f"payload encrypted with key {key_id.decode(errors='replace')!r}")
            data = payload.data
            plain = Payload()
            plain.ParseFromString(cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id))
            decoded.append(plain)
        return decoded

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encode_sync(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decode_sync(payloads)


class CustomerHasher:
    """The value of the TripCustomerId search attribute for a customer id: a keyed hash."""

    def __init__(self, keys: Sequence[CodecKey]) -> None:
        self._keys = [(key.key_id, key.hash_key()) for key in keys]

    def _hash(self, key_id: str, hash_key: bytes, customer_id: str) -> str:
        digest = hmac.new(hash_key, customer_id.encode(), hashlib.sha256).hexdigest()
        return f"{key_id}.{digest[:32]}"

    def current(self, customer_id: str) -> str:
        """What a new trip is indexed under (the first key)."""
        key_id, hash_key = self._keys[0]
        return self._hash(key_id, hash_key, customer_id)

    def every(self, customer_id: str) -> list[str]:
        """What any trip of this customer may be indexed under (one value per key)."""
        return [self._hash(key_id, hash_key, customer_id) for key_id, hash_key in self._keys]


@dataclass(frozen=True)
class PayloadProtection:
    """Everything TRIP_CODEC_KEYS turns on: the data converter and the customer hash."""

    codec: EncryptionCodec
    hasher: CustomerHasher
    data_converter: DataConverter

    @classmethod
    def from_keys(cls, keys: Sequence[CodecKey]) -> PayloadProtection:
        codec = EncryptionCodec(keys)
        converter = dataclasses.replace(
            DataConverter.default,
            payload_codec=codec,
            failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
        )
        return cls(codec, CustomerHasher(keys), converter)


def from_env(env: Mapping[str, str] | None = None) -> PayloadProtection | None:
    """The protection TRIP_CODEC_KEYS asks for; None (nothing installed) when it is unset."""
    text = (os.environ if env is None else env).get(ENV_KEYS, "").strip()
    return PayloadProtection.from_keys(parse_keys(text)) if text else None
