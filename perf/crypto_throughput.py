"""Field-encryption throughput: envelope encrypt/decrypt and blind-index ops per second.

Run: ``python perf/crypto_throughput.py`` (with ``legal_data`` importable, e.g.
``PYTHONPATH=src``). Prints best-of-3 figures; asserts nothing, since timings on
shared machines vary too much to gate on here. The raw ``AESGCM`` rows show how
much the envelope (header parse, key lookup, AAD, checks) adds on top of the cipher.
Keys are TEST KEYS generated at start-up.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from uuid import UUID, uuid4

import cryptography
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from legal_data.crypto import (
    Binding,
    StaticKeyring,
    blind_index,
    decrypt,
    encrypt,
    generate_data_key,
)
from legal_data.crypto.keys import _material_of

SIZES = {"64 B": 64, "4 KB": 4096}
TARGET_SECONDS = 0.3
REPEATS = 3


def ops_per_second(operation: Callable[[], object]) -> float:
    """Best of REPEATS timed batches, each sized to run about TARGET_SECONDS."""
    start = time.perf_counter()
    calibration = 0
    while time.perf_counter() - start < 0.05:
        operation()
        calibration += 1
    batch = max(1, int(calibration * TARGET_SECONDS / 0.05))
    best = 0.0
    for _ in range(REPEATS):
        began = time.perf_counter()
        for _ in range(batch):
            operation()
        best = max(best, batch / (time.perf_counter() - began))
    return best


def main() -> None:
    tenant = uuid4()
    key = generate_data_key(tenant, "encryption", 1)
    index_key = generate_data_key(tenant, "blind_index", 1)
    keyring = StaticKeyring([key, index_key])
    # Bindings are built per call, as a column type with the tenant from context would.
    raw = AESGCM(_material_of(key))
    aad = os.urandom(64)

    print(
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; best of {REPEATS}"
    )
    print(f"{'operation':<34}{'ops/s':>12}{'µs/op':>10}")

    def report(label: str, operation: Callable[[], object]) -> None:
        rate = ops_per_second(operation)
        print(f"{label:<34}{rate:>12,.0f}{1e6 / rate:>10.2f}")

    for label, size in SIZES.items():
        plaintext = os.urandom(size)
        row = uuid4()
        envelope = encrypt(plaintext, key=key, binding=Binding(tenant, "matters", "notes", row))
        nonce = os.urandom(12)
        sealed = raw.encrypt(nonce, plaintext, aad)

        def seal(p: bytes = plaintext, r: UUID = row) -> bytes:
            return encrypt(p, key=key, binding=Binding(tenant, "matters", "notes", r))

        def unseal(e: bytes = envelope, r: UUID = row) -> bytes:
            return decrypt(e, keyring=keyring, binding=Binding(tenant, "matters", "notes", r))

        def raw_seal(p: bytes = plaintext) -> bytes:
            return raw.encrypt(os.urandom(12), p, aad)

        def raw_unseal(n: bytes = nonce, s: bytes = sealed) -> bytes:
            return raw.decrypt(n, s, aad)

        report(f"encrypt {label}", seal)
        report(f"decrypt {label}", unseal)
        report(f"  raw AESGCM encrypt {label}", raw_seal)
        report(f"  raw AESGCM decrypt {label}", raw_unseal)

    report(
        "blind_index email",
        lambda: blind_index("Ｔａｒｏ.Yamada@Example.co.jp", key=index_key, kind="email"),
    )
    report(
        "blind_index phone",
        lambda: blind_index("+81 90-1234-5678", key=index_key, kind="phone"),
    )


if __name__ == "__main__":
    main()
