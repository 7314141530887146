"""The house rules (shared/style.md) hold: import-linter checks the layer contracts in
pyproject.toml ([tool.importlinter]) — web → services → repositories | channels → kit, a
sandbox never imports an adapter, adapters import only the contract and kit, kit imports
nothing of paygate. ``make check`` runs the same command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
