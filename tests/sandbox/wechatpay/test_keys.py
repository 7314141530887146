"""Key material: persisted in ``data_dir/wechatpay.json``, identical across restarts and
across processes racing to create it, certificate renewed when it stops being valid."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.wechatpay import WechatPaySandbox
from paygate.sandbox.wechatpay.keys import KEY_FILE_NAME, load_or_create, make_platform_certificate

ROOT = Path(__file__).resolve().parents[3]


def test_credentials_shape_and_persistence(key_dir: Path) -> None:
    config = SandboxConfig(base_url="http://127.0.0.1:8090", data_dir=key_dir)
    first = WechatPaySandbox(config).credentials()
    again = WechatPaySandbox(config).credentials()
    assert first == again
    assert first["base_url"] == "http://127.0.0.1:8090/wechatpay"
    assert first["mchid"].isdigit() and len(first["mchid"]) == 10
    assert first["appid"].startswith("wx") and len(first["appid"]) == 18
    assert first["merchant_private_key"].startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert first["platform_public_key"].startswith("-----BEGIN PUBLIC KEY-----")  # SPKI
    assert len(first["apiv3_key"]) == 32 and first["apiv3_key"].isascii()
    assert first["platform_public_key_id"].startswith("PUB_KEY_ID_")
    assert first["platform_public_key_id"].removeprefix("PUB_KEY_ID_").isdigit()
    assert len(first["merchant_serial_no"]) == 40
    cert = x509.load_pem_x509_certificate(first["platform_certificate"].encode())
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert cert.serial_number == int(first["platform_certificate_serial"], 16)
    assert (
        cert.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
        == first["platform_public_key"]
    )
    mode = stat.S_IMODE(os.stat(key_dir / KEY_FILE_NAME).st_mode)
    assert mode & 0o077 == 0, "the key file must not be readable by others"


_RACER = """
import sys, json
from pathlib import Path
from paygate.sandbox.wechatpay.keys import load_or_create
merchant, platform = load_or_create(Path(sys.argv[1]))
print(json.dumps([merchant.mchid, merchant.serial_no, platform.public_key_id, platform.certificate_serial]))
"""


def test_processes_racing_to_create_keys_agree(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    racers = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(tmp_path)], stdout=subprocess.PIPE, env=env)
        for _ in range(4)
    ]
    answers = {racer.communicate(timeout=60)[0] for racer in racers}
    assert all(r.returncode == 0 for r in racers)
    assert len(answers) == 1, answers
    stored = json.loads((tmp_path / KEY_FILE_NAME).read_text())
    assert json.loads(answers.pop())[0] == stored["mchid"]
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]  # no temp files left


def test_an_expired_certificate_is_renewed(tmp_path: Path) -> None:
    merchant, platform = load_or_create(tmp_path)
    path = tmp_path / KEY_FILE_NAME
    document = json.loads(path.read_text())
    old = make_platform_certificate(platform.private_key, dt.datetime(2015, 1, 1, tzinfo=dt.UTC))
    document["platform_certificate"] = old.public_bytes(serialization.Encoding.PEM).decode()
    path.write_text(json.dumps(document))
    merchant2, renewed = load_or_create(tmp_path)
    assert renewed.certificate.serial_number != old.serial_number
    assert renewed.certificate.not_valid_after_utc > dt.datetime.now(dt.UTC)
    assert renewed.public_key_id == platform.public_key_id and merchant2.mchid == merchant.mchid
    assert json.loads(path.read_text())["platform_certificate"] == renewed.certificate_pem


def test_foreign_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE_NAME).write_text('{"version": 99}')
    with pytest.raises(ValueError, match="version"):
        load_or_create(tmp_path)


def test_register_merchant(key_dir: Path) -> None:
    sandbox = WechatPaySandbox(SandboxConfig(base_url="http://h", data_dir=key_dir))
    creds = sandbox.register_merchant(mchid="1900000109", appids=["wxaaaaaaaaaaaaaaaa", "wxbbbb"])
    assert creds["mchid"] == "1900000109" and creds["appid"] == "wxaaaaaaaaaaaaaaaa"
    assert creds["merchant_private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(ValueError, match="exists"):
        sandbox.register_merchant(mchid="1900000109")
    with pytest.raises(ValueError, match="32"):
        sandbox.register_merchant(apiv3_key="short")
    assert "merchant_private_key" not in sandbox.register_merchant(public_key=creds["platform_public_key"])
