from __future__ import annotations

from pathlib import Path

import pytest

from paygate.channels.contract import ChannelAccount
from tests.adapters.wechatpay.support import Keys, make_account, new_key


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        merchant=new_key(), platform=new_key(), cert_key=new_key(), rotated=new_key(), other=new_key()
    )


@pytest.fixture
def account(keys: Keys) -> ChannelAccount:
    return make_account(keys, "http://127.0.0.1:9")


@pytest.fixture(scope="session")
def sandbox_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox's key file is generated once per session and reused by each sandbox."""
    return tmp_path_factory.mktemp("wechatpay-sandbox")
