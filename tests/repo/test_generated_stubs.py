"""The committed stubs in generated/ must be exactly what `make protos` writes."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_generated_stubs_are_fresh(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    committed = ROOT / "generated"
    assert _tree(out) == _tree(committed), "generated/ lists other files than `make protos` writes"
    stale = [
        name for name in sorted(_tree(out)) if not filecmp.cmp(out / name, committed / name, shallow=False)
    ]
    assert not stale, f"stale stubs, run `make protos`: {stale}"
