"""The ``paygate`` command finds its data wherever it is run from (issue 6 item 9): the
data directory is ``PAYGATE_DATA_DIR`` or a default that does not depend on the current
directory, the SQLite database follows it, and commands that need initialised data refuse
(exit 2) instead of making new keys the running server does not know."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import paygate
from paygate.catalog import sandbox_classes
from paygate.config import Settings, default_data_dir
from paygate.demo import sandbox_config
from paygate.sandbox.app import load_sandbox
from tests.e2e.test_cli_walkthrough import PAYGATE


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    env.update(extra)
    return env


def paygate_in(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([PAYGATE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_default_data_dir_does_not_depend_on_the_current_directory(tmp_path: Path) -> None:
    info = last_json(paygate_in(tmp_path / "elsewhere", clean_env(), "info"))
    expected = default_data_dir()
    checkout = Path(paygate.__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():  # a development install: the project's var/
        assert expected == checkout / "var"
    assert info["data_dir"] == str(expected) and info["data_dir_from"] == "default"
    assert info["database"] == f"sqlite+aiosqlite:///{expected / 'paygate.db'}"
    assert not (tmp_path / "elsewhere" / "var").exists()


def test_a_package_install_keeps_its_data_in_the_user_data_dir(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    site_package = tmp_path / "lib" / "python3.11" / "site-packages" / "paygate"
    site_package.mkdir(parents=True)
    assert default_data_dir(site_package) == tmp_path / "share" / "paygate"
    checkout = tmp_path / "checkout"
    (checkout / "src" / "paygate").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'paygate'\n")
    assert default_data_dir(checkout / "src" / "paygate") == checkout / "var"


def test_commands_run_from_another_directory_print_the_data_dirs_credentials(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = clean_env(PAYGATE_DATA_DIR=str(data))
    paygate_in(tmp_path / "setup", env, "migrate").check_returncode()
    paygate_in(tmp_path / "setup", env, "demo", "seed").check_returncode()
    assert (data / "paygate.db").is_file()  # the default database follows the data dir
    assert not (tmp_path / "setup" / "var").exists()

    somewhere = tmp_path / "somewhere" / "else"
    printed = last_json(paygate_in(somewhere, env, "sandbox", "credentials", "alipay"))
    held = load_sandbox("alipay", sandbox_config(Settings(data_dir=data)), sandbox_classes()).credentials()
    assert printed == held
    demo = last_json(paygate_in(somewhere, env, "demo", "credentials"))
    assert demo == last_json(paygate_in(tmp_path / "setup", env, "demo", "credentials"))
    assert not (somewhere / "var").exists()


def test_commands_needing_data_refuse_an_empty_data_dir(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = clean_env(PAYGATE_DATA_DIR=str(empty))
    for args in (
        ["sandbox", "credentials", "alipay"],
        ["demo", "credentials"],
        ["demo", "pay"],
        ["demo", "query", "T1"],
        ["account", "list"],
        ["app", "create", "shop", "--name", "Shop"],
        ["account", "add", "alipay", "--name=a", "--merchant-id=1", "--gateway-url=http://x.test"],
    ):
        result = paygate_in(tmp_path / "cwd", env, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert f"no initialised data in {empty}" in result.stderr, result.stderr
        assert "PAYGATE_DATA_DIR" in result.stderr
        assert "Traceback" not in result.stderr
    assert list(empty.iterdir()) == []  # no new keys, no new database
    assert not (tmp_path / "cwd" / "var").exists()
    info = last_json(paygate_in(tmp_path / "cwd", env, "info"))
    assert info["initialised"] is False and info["data_dir_from"] == "PAYGATE_DATA_DIR"
