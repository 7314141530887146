"""The sandbox's identity: created once, persisted, race-safe, in the key formats the
SDKs need (PKCS#1 app private key, SPKI public keys)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from paygate.kit.crypto import load_private_key, public_key_pem
from paygate.sandbox.alipay import AlipaySandbox
from paygate.sandbox.alipay.keys import FILE_NAME, load_or_create
from paygate.sandbox.base import SandboxConfig


def test_credentials_persist_across_restarts(tmp_path: Path) -> None:
    config = SandboxConfig(base_url="http://127.0.0.1:8090", data_dir=tmp_path / "data")
    first = AlipaySandbox(config).credentials()
    assert (tmp_path / "data" / FILE_NAME).exists()
    assert AlipaySandbox(config).credentials() == first
    assert first["gateway_url"] == "http://127.0.0.1:8090/alipay/gateway.do"
    assert re.fullmatch(r"2021\d{12}", first["app_id"])
    assert re.fullmatch(r"2088\d{12}", first["seller_id"])
    assert first["app_private_key"].startswith("-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1
    assert first["alipay_public_key"].startswith("-----BEGIN PUBLIC KEY-----")  # SPKI
    assert public_key_pem(load_private_key(first["app_private_key"])) == first["app_public_key"]
    assert first["alipay_public_key"] != first["app_public_key"]
    json.dumps(first)


def test_concurrent_first_use_yields_one_identity(tmp_path: Path) -> None:
    barrier = threading.Barrier(6)
    results: list[str] = []

    def start() -> None:
        barrier.wait()
        results.append(load_or_create(tmp_path).demo_merchant.app_id)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    on_disk = json.loads((tmp_path / FILE_NAME).read_text())["demo_merchant"]["app_id"]
    assert results == [on_disk] * 6
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]  # no temp files left
