from __future__ import annotations

import pytest

from paygate.channels.contract import ChannelAccount
from tests.channels.wechatpay.support import Keys, make_account, new_key


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        merchant=new_key(), platform=new_key(), cert_key=new_key(), rotated=new_key(), other=new_key()
    )


@pytest.fixture
def account(keys: Keys) -> ChannelAccount:
    return make_account(keys, "http://127.0.0.1:9")
