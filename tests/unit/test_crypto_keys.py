"""Data keys, keyring lookup, master-key wrapping, and the cipher cache under concurrency.

All key material here is TEST KEYS generated in tests (fixed patterns or
os.urandom); none of it is, or may ever be used as, a real key.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import pickle
import sys
import threading
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from legal_data.crypto.envelope import Binding, decrypt, encrypt, parse_header
from legal_data.crypto.keys import (
    CipherCache,
    DataKey,
    KeyLookup,
    KeyNotUsable,
    LocalMasterKey,
    MasterKeyProvider,
    StaticKeyring,
    WrapContext,
    _material_of,
    cipher_cache,
    generate_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from legal_data.errors import (
    AuthenticationFailed,
    ConfigurationError,
    CryptoError,
    KeyDestroyed,
    TenantMismatch,
    UnknownKey,
    UnsupportedCiphertext,
)

# -- TEST KEYS: fixed, public, for golden vectors only ---------------------------------
TEST_TENANT = UUID("0e5f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b")
TEST_KEY_ID = UUID("7d2c9a10-5b3e-4f61-9c8d-2a4b6c8e0f12")
TEST_DATA_KEY_MATERIAL = bytes(range(32))  # TEST KEY: 00 01 02 … 1f
TEST_MASTER_KEY_MATERIAL = bytes(range(64, 96))  # TEST KEY: 40 41 42 … 5f


def golden_data_key() -> DataKey:
    return DataKey(
        key_id=TEST_KEY_ID,
        tenant_id=TEST_TENANT,
        purpose="encryption",
        version=1,
        state="active",
        material=TEST_DATA_KEY_MATERIAL,
    )


# -- DataKey ---------------------------------------------------------------------------


def test_repr_and_str_never_show_key_bytes() -> None:
    key = golden_data_key()
    for text in (repr(key), str(key), f"{key!r}", str([key])):
        assert TEST_DATA_KEY_MATERIAL.hex() not in text
        assert repr(TEST_DATA_KEY_MATERIAL) not in text
        assert "material" not in text
        assert str(TEST_KEY_ID) in text


def test_data_key_cannot_be_pickled_or_copied() -> None:
    key = golden_data_key()
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.copy(key)


def test_data_key_equality_is_identity() -> None:
    assert golden_data_key() != golden_data_key()
    key = golden_data_key()
    assert key == key


@pytest.mark.parametrize(
    "overrides",
    [
        {"material": b"\x00" * 31},
        {"material": b"\x00" * 33},
        {"material": None},
        {"material": "x" * 32},
        {"purpose": "signing"},
        {"state": "disabled"},
        {"version": 0},
        {"version": True},
        {"version": 2**32},
        {"key_id": str(TEST_KEY_ID)},
        {"tenant_id": str(TEST_TENANT)},
        {"state": "destroyed"},  # destroyed keys must not carry material
    ],
)
def test_data_key_validation(overrides: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "key_id": TEST_KEY_ID,
        "tenant_id": TEST_TENANT,
        "purpose": "encryption",
        "version": 1,
        "state": "active",
        "material": TEST_DATA_KEY_MATERIAL,
    }
    fields.update(overrides)
    with pytest.raises(ConfigurationError) as info:
        DataKey(**fields)  # type: ignore[arg-type]
    assert TEST_DATA_KEY_MATERIAL.hex() not in str(info.value)


def test_material_is_copied_from_mutable_input() -> None:
    raw = bytearray(TEST_DATA_KEY_MATERIAL)
    key = DataKey(
        key_id=uuid4(),
        tenant_id=TEST_TENANT,
        purpose="encryption",
        version=1,
        state="active",
        material=raw,
    )
    raw[0] ^= 0xFF
    assert _material_of(key) == TEST_DATA_KEY_MATERIAL


def test_destroyed_key_drops_material() -> None:
    destroyed = golden_data_key().with_state("destroyed")
    assert destroyed.state == "destroyed"
    assert destroyed._material is None
    with pytest.raises(KeyDestroyed):
        _material_of(destroyed)
    assert not destroyed.can_decrypt
    assert not destroyed.can_encrypt


def test_generate_data_key() -> None:
    tenant = uuid4()
    keys = [generate_data_key(tenant, "encryption", 1) for _ in range(100)]
    assert len({k.key_id for k in keys}) == 100
    assert len({_material_of(k) for k in keys}) == 100
    assert all(k.tenant_id == tenant and k.state == "active" for k in keys)
    staged = generate_data_key(tenant, "blind_index", 2, state="decrypt_only")
    assert (staged.purpose, staged.version, staged.state) == ("blind_index", 2, "decrypt_only")


# -- keyring ---------------------------------------------------------------------------


def test_static_keyring_lookup_errors() -> None:
    tenant_a, tenant_b = uuid4(), uuid4()
    key_a = generate_data_key(tenant_a, "encryption", 1)
    key_b = generate_data_key(tenant_b, "encryption", 1)
    keyring = StaticKeyring([key_a, key_b])
    assert isinstance(keyring, KeyLookup)
    assert keyring.get(key_a.key_id, tenant_a) is key_a

    missing = uuid4()
    with pytest.raises(UnknownKey, match=str(missing)):
        keyring.get(missing, tenant_a)
    with pytest.raises(TenantMismatch, match=str(key_b.key_id)):
        keyring.get(key_b.key_id, tenant_a)
    keyring.destroy(key_b.key_id)
    with pytest.raises(KeyDestroyed):
        keyring.get(key_b.key_id, tenant_b)
    # Another tenant's destroyed key is still reported as another tenant's key.
    with pytest.raises(TenantMismatch):
        keyring.get(key_b.key_id, tenant_a)
    assert keyring.get(key_a.key_id, tenant_a) is key_a  # untouched


def test_keyring_tracks_one_active_key_per_tenant_and_purpose() -> None:
    tenant = uuid4()
    v1 = generate_data_key(tenant, "encryption", 1)
    bidx = generate_data_key(tenant, "blind_index", 1)
    keyring = StaticKeyring([v1, bidx])
    assert keyring.active(tenant, "encryption") is v1
    assert keyring.active(tenant, "blind_index") is bidx

    v2 = generate_data_key(tenant, "encryption", 2, state="decrypt_only")
    keyring.add(v2)
    with pytest.raises(ConfigurationError, match="already has active"):
        keyring.add(v2.with_state("active"))
    # Two-step rotation: demote old, promote new.
    keyring.set_state(v1.key_id, "decrypt_only")
    with pytest.raises(UnknownKey, match="no active"):
        keyring.active(tenant, "encryption")
    promoted = keyring.set_state(v2.key_id, "active")
    assert keyring.active(tenant, "encryption") is promoted
    assert len(keyring) == 3
    assert v1.key_id in keyring


def test_keyring_rejects_reused_key_ids() -> None:
    key = generate_data_key(uuid4(), "encryption", 1)
    keyring = StaticKeyring([key])
    impostor = DataKey(
        key_id=key.key_id,
        tenant_id=uuid4(),
        purpose="encryption",
        version=1,
        state="active",
        material=bytes(32),
    )
    with pytest.raises(ConfigurationError, match="unique"):
        keyring.add(impostor)
    same_slot_other_bytes = DataKey(
        key_id=key.key_id,
        tenant_id=key.tenant_id,
        purpose="encryption",
        version=1,
        state="active",
        material=bytes(32),
    )
    with pytest.raises(ConfigurationError, match="other key material"):
        keyring.add(same_slot_other_bytes)


def test_destruction_is_final_and_evicts_cipher() -> None:
    key = generate_data_key(uuid4(), "encryption", 1)
    keyring = StaticKeyring([key])
    binding = Binding(key.tenant_id, "clients", "email")
    envelope = encrypt(b"v", key=key, binding=binding)
    assert any(slot[1] == key.key_id for slot in cipher_cache._entries)
    keyring.destroy(key.key_id)
    assert not any(slot[1] == key.key_id for slot in cipher_cache._entries)
    with pytest.raises(KeyDestroyed):
        decrypt(envelope, keyring=keyring, binding=binding)
    with pytest.raises(KeyDestroyed, match="cannot be undone"):
        keyring.set_state(key.key_id, "decrypt_only")
    with pytest.raises(UnknownKey):
        keyring.set_state(uuid4(), "retired")


# -- cipher cache ----------------------------------------------------------------------


def test_cipher_cache_reuses_and_checks_material() -> None:
    cache = CipherCache(max_entries=2)
    key = generate_data_key(uuid4(), "encryption", 1)
    assert cache.aesgcm(key) is cache.aesgcm(key)
    assert cache.aesgcm(key) is cache.aesgcm(key.with_state("decrypt_only"))

    impostor = DataKey(
        key_id=key.key_id,
        tenant_id=key.tenant_id,
        purpose="encryption",
        version=1,
        state="active",
        material=bytes(32),
    )
    with pytest.raises(CryptoError, match="unique"):
        cache.aesgcm(impostor)

    others = [generate_data_key(uuid4(), "encryption", 1) for _ in range(3)]
    for other in others:
        cache.aesgcm(other)
    assert len(cache) == 2  # bounded
    cache.evict(others[-1].key_id)
    assert len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ConfigurationError):
        CipherCache(max_entries=0)


def test_thread_hammer_never_crosses_tenants() -> None:
    """16 threads x 2,000 operations across 8 firms sharing one keyring and one cipher cache.

    Regression for the sqlalchemy-utils race (a shared engine whose key was switched per
    call sealed 356 of 40,000 values under the other tenant's key). Each envelope is checked
    against the firm's own raw key with an independent AESGCM, not through the cache.
    """
    tenants = [uuid4() for _ in range(8)]
    keys = {t: generate_data_key(t, "encryption", 1) for t in tenants}
    keyring = StaticKeyring(keys.values())
    independent = {t: AESGCM(_material_of(keys[t])) for t in tenants}
    cipher_cache.clear()  # make threads race to populate the cache, too
    errors: list[str] = []
    start = threading.Barrier(16)

    def worker(index: int) -> None:
        # A worker that dies would otherwise only print a warning; record it as a failure.
        try:
            work(index)
        except Exception as exc:
            errors.append(f"thread {index}: {type(exc).__name__}: {exc}")

    def work(index: int) -> None:
        tenant = tenants[index % 8]
        intruder = tenants[(index + 1) % 8]
        key = keys[tenant]
        start.wait()
        for op in range(2000):
            binding = Binding(tenant, "clients", "name", row_id=None if op % 2 else uuid4())
            plaintext = f"{tenant}:{op}".encode()
            envelope = encrypt(plaintext, key=key, binding=binding)
            if parse_header(envelope).key_id != key.key_id:
                errors.append(f"thread {index} op {op}: header names another key")
                continue
            aad = b"legal_data/fle/v1" + envelope[:18] + binding._aad_tail
            try:
                independent[tenant].decrypt(envelope[18:30], envelope[30:], aad)
            except InvalidTag:
                errors.append(f"thread {index} op {op}: not sealed with own key")
                continue
            if decrypt(envelope, keyring=keyring, binding=binding) != plaintext:
                errors.append(f"thread {index} op {op}: round trip differs")
            if op % 10 == 0:
                try:
                    decrypt(envelope, keyring=keyring, binding=Binding(intruder, "clients", "name"))
                    errors.append(f"thread {index} op {op}: opened by another tenant")
                except TenantMismatch:
                    pass

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # force frequent thread switches to surface races
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert errors == []


def test_asyncio_tasks_never_cross_tenants() -> None:
    tenants = [uuid4() for _ in range(4)]
    keys = {t: generate_data_key(t, "encryption", 1) for t in tenants}
    keyring = StaticKeyring(keys.values())

    async def firm(tenant: UUID) -> list[str]:
        bad: list[str] = []
        for op in range(500):
            binding = Binding(tenant, "matters", "notes")
            envelope = encrypt(f"{tenant}:{op}".encode(), key=keys[tenant], binding=binding)
            await asyncio.sleep(0)  # let every other firm's task run in between
            if parse_header(envelope).key_id != keys[tenant].key_id:
                bad.append(f"{op}: wrong key id")
            if decrypt(envelope, keyring=keyring, binding=binding) != f"{tenant}:{op}".encode():
                bad.append(f"{op}: round trip differs")
        return bad

    async def main() -> list[list[str]]:
        return await asyncio.gather(*(firm(t) for t in tenants for _ in range(2)))

    assert asyncio.run(main()) == [[]] * 8


# -- master keys -----------------------------------------------------------------------


def test_local_master_key_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoded = base64.b64encode(TEST_MASTER_KEY_MATERIAL).decode()
    reference = LocalMasterKey(TEST_MASTER_KEY_MATERIAL)
    assert isinstance(reference, MasterKeyProvider)
    assert reference.key_id == "local:36b6dc3442264de0"  # pinned fingerprint of the TEST KEY

    monkeypatch.setenv("LEGAL_DATA_MASTER_KEY", encoded)
    assert LocalMasterKey.from_env().key_id == reference.key_id
    assert LocalMasterKey.from_env(environ={"K": f"  {encoded}\n"}, variable="K").key_id == (
        reference.key_id
    )
    path = tmp_path / "master.key"
    path.write_text(encoded + "\n")
    assert LocalMasterKey.from_file(path).key_id == reference.key_id
    assert LocalMasterKey.from_bytes(TEST_MASTER_KEY_MATERIAL).key_id == reference.key_id
    assert LocalMasterKey.generate().key_id != reference.key_id


def test_local_master_key_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEGAL_DATA_MASTER_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="LEGAL_DATA_MASTER_KEY is not set"):
        LocalMasterKey.from_env()
    short = base64.b64encode(b"k" * 16).decode()
    with pytest.raises(ConfigurationError, match="decodes to 16 bytes") as info:
        LocalMasterKey.from_env(environ={"LEGAL_DATA_MASTER_KEY": short})
    assert short not in str(info.value)
    with pytest.raises(ConfigurationError, match="not valid base64") as info:
        LocalMasterKey.from_env(environ={"LEGAL_DATA_MASTER_KEY": "not*base64!"})
    assert "not*base64!" not in str(info.value)
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalMasterKey.from_file(tmp_path / "missing.key")
    wrong = tmp_path / "wrong.key"
    wrong.write_bytes(TEST_MASTER_KEY_MATERIAL)  # raw bytes, not base64 text
    with pytest.raises(ConfigurationError):
        LocalMasterKey.from_file(wrong)
    with pytest.raises(ConfigurationError, match="31 bytes"):
        LocalMasterKey(b"\x00" * 31)


def test_local_master_key_hides_material() -> None:
    master = LocalMasterKey(TEST_MASTER_KEY_MATERIAL)
    assert TEST_MASTER_KEY_MATERIAL.hex() not in repr(master)
    assert repr(master) == "LocalMasterKey(key_id='local:36b6dc3442264de0')"
    with pytest.raises(TypeError):
        pickle.dumps(master)


GOLDEN_WRAP = (
    "010c0d0e0f1011121314151617c5737cd23c88f5586132444504ef8526cc0ca2eb"
    "6e57a757b681d7d672d9bf9ec61604c078c3d09ab1676a8673bb799f"
)


def test_golden_wrap_vector() -> None:
    master = LocalMasterKey(TEST_MASTER_KEY_MATERIAL)
    key = golden_data_key()
    nonce = bytes.fromhex("0c0d0e0f1011121314151617")
    wrapped = master._wrap_with_nonce(TEST_DATA_KEY_MATERIAL, WrapContext.for_key(key), nonce)
    assert wrapped.hex() == GOLDEN_WRAP
    # The documented wrap AAD, built independently and checked with raw AES-GCM.
    aad = (
        b"legal_data/dek-wrap/v1"
        + b"\x01"
        + TEST_TENANT.bytes
        + TEST_KEY_ID.bytes
        + len(b"encryption").to_bytes(2, "big")
        + b"encryption"
        + (1).to_bytes(4, "big")
    )
    assert wrapped[13:] == AESGCM(TEST_MASTER_KEY_MATERIAL).encrypt(
        nonce, TEST_DATA_KEY_MATERIAL, aad
    )


def unwrap_golden(wrapped: bytes, **overrides: object) -> DataKey:
    fields: dict[str, object] = {
        "key_id": TEST_KEY_ID,
        "tenant_id": TEST_TENANT,
        "purpose": "encryption",
        "version": 1,
        "state": "active",
    }
    fields.update(overrides)
    return unwrap_data_key(
        wrapped,
        provider=LocalMasterKey(TEST_MASTER_KEY_MATERIAL),
        **fields,  # type: ignore[arg-type]
    )


def test_wrap_unwrap_round_trip() -> None:
    master = LocalMasterKey(TEST_MASTER_KEY_MATERIAL)
    key = golden_data_key()
    wrapped = wrap_data_key(key, provider=master)
    assert len(wrapped) == 61
    assert wrapped != wrap_data_key(key, provider=master)  # random nonce
    assert TEST_DATA_KEY_MATERIAL not in wrapped
    restored = unwrap_golden(wrapped, state="decrypt_only")
    assert _material_of(restored) == TEST_DATA_KEY_MATERIAL
    assert (restored.key_id, restored.tenant_id, restored.state) == (
        TEST_KEY_ID,
        TEST_TENANT,
        "decrypt_only",
    )
    assert _material_of(unwrap_golden(bytes.fromhex(GOLDEN_WRAP))) == TEST_DATA_KEY_MATERIAL


def test_unwrap_rejects_tampering_and_wrong_context() -> None:
    wrapped = bytes.fromhex(GOLDEN_WRAP)
    for position in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[position] ^= 0x01
        expected = UnsupportedCiphertext if position == 0 else AuthenticationFailed
        with pytest.raises(expected):
            unwrap_golden(bytes(tampered))
    for length in range(len(wrapped)):
        with pytest.raises(UnsupportedCiphertext):
            unwrap_golden(wrapped[:length])
    for overrides in (
        {"tenant_id": uuid4()},
        {"key_id": uuid4()},
        {"purpose": "blind_index"},
        {"version": 2},
    ):
        with pytest.raises(AuthenticationFailed, match="did not authenticate"):
            unwrap_golden(wrapped, **overrides)
    with pytest.raises(AuthenticationFailed, match="wrong master key"):
        unwrap_data_key(
            wrapped,
            provider=LocalMasterKey.generate(),
            key_id=TEST_KEY_ID,
            tenant_id=TEST_TENANT,
            purpose="encryption",
            version=1,
            state="active",
        )
    with pytest.raises(KeyDestroyed):
        unwrap_golden(wrapped, state="destroyed")


def test_wrap_context_encryption_context_for_kms() -> None:
    context = WrapContext.for_key(golden_data_key())
    assert context.encryption_context() == {
        "legal_data:tenant_id": str(TEST_TENANT),
        "legal_data:key_id": str(TEST_KEY_ID),
        "legal_data:purpose": "encryption",
        "legal_data:version": "1",
    }


def test_unwrapped_key_decrypts_values_sealed_before_wrapping() -> None:
    master = LocalMasterKey.generate()
    key = generate_data_key(uuid4(), "encryption", 1)
    binding = Binding(key.tenant_id, "clients", "email")
    envelope = encrypt(b"value", key=key, binding=binding)
    restored = unwrap_data_key(
        wrap_data_key(key, provider=master),
        provider=master,
        key_id=key.key_id,
        tenant_id=key.tenant_id,
        purpose="encryption",
        version=1,
        state="decrypt_only",
    )
    assert decrypt(envelope, keyring=StaticKeyring([restored]), binding=binding) == b"value"
    with pytest.raises(KeyNotUsable):
        encrypt(b"value", key=restored, binding=binding)
