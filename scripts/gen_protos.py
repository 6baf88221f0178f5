"""Regenerate the Python stubs in generated/ from protos/, deterministically.

`make protos` runs this; tests run it into a temporary folder and compare, so
committed stubs can never drift from the .proto files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
INIT_TEXT = '"""Generated protobuf package; do not edit (make protos)."""\n'


def proto_files() -> list[Path]:
    """Every .proto under protos/, in a stable order."""
    return sorted(PROTOS.rglob("*.proto"))


def generate(out_dir: Path) -> None:
    """Write pb2, grpc and typing stubs for every proto into out_dir."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    # protoc finds the mypy plugins (protoc-gen-mypy*) on PATH: use this venv's.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    well_known = str(resources.files("grpc_tools") / "_proto")
    files = [str(p.relative_to(PROTOS)) for p in proto_files()]
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTOS}",
        f"--proto_path={well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *files,
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    for package_dir in sorted({p.parent for p in out_dir.rglob("*.py")} | {out_dir / "tripbooking"}):
        current = package_dir
        while current != out_dir:
            init = current / "__init__.py"
            if not init.exists():
                init.write_text(INIT_TEXT)
            current = current.parent
    (out_dir / "py.typed").write_text("")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "generated", help="output folder")
    generate(parser.parse_args().out)


if __name__ == "__main__":
    main()
