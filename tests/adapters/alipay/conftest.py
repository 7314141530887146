from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from paygate.channels.contract import ChannelAccount
from tests.adapters.alipay.support import Keys, make_account


@pytest.fixture(scope="session")
def keys() -> Keys:
    def new() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    return Keys(app=new(), alipay=new(), other=new())


@pytest.fixture
def account(keys: Keys) -> ChannelAccount:
    return make_account(keys, "http://127.0.0.1:9/gateway.do")
