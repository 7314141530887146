"""R-API-4, R-SEC-4: masking and encryption at rest."""

import pytest

from paygate.kit.crypto import CryptoError, Secret, SecretBox
from paygate.kit.masking import mask


def test_mask_hides_secrets_and_shortens_accounts() -> None:
    data = {
        "app_private_key": "-----BEGIN RSA PRIVATE KEY-----abc",
        "sign": "c2lnbmF0dXJl",
        "buyer_logon_id": "13800138000",
        "nested": [{"secret": "s3cret", "card": "6222021234567890123"}],
        "amount": 1999,
    }
    masked = mask(data)
    text = repr(masked)
    assert "BEGIN RSA" not in text and "s3cret" not in text and "c2lnbmF0dXJl" not in text
    assert masked["buyer_logon_id"] == "138****8000"
    assert masked["nested"][0]["card"] == "622****0123"
    assert masked["amount"] == 1999


def test_secret_never_prints() -> None:
    s = Secret("topsecret")
    assert "topsecret" not in repr(s) and "topsecret" not in str(s) and "topsecret" not in f"{s}"
    assert s.reveal() == "topsecret"


def test_secret_box_binds_value_to_its_row() -> None:
    box = SecretBox(b"m" * 32)
    sealed = box.seal("private-key-material", "channel_account:alipay:1")
    assert "private-key-material" not in sealed
    assert box.open(sealed, "channel_account:alipay:1").reveal() == "private-key-material"
    with pytest.raises(CryptoError):
        box.open(sealed, "channel_account:alipay:2")
    with pytest.raises(CryptoError):
        SecretBox(b"n" * 32).open(sealed, "channel_account:alipay:1")
