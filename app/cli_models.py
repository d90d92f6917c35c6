"""`engram models list|add PATH|use NAME`: what models there are, and which one Engram runs.

`register(subparsers)` adds the command to the main parser (like `cli_docs`). `add` verifies
the GGUF header and, when the catalogue knows the file, its size and sha256 before recording it;
`use` writes `model_path` in settings.json through `Settings`. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.config import Settings, data_dir

GB = 1024**3


def register(subparsers: Any) -> None:
    """Add `models` with its three actions to `parser.add_subparsers()`'s result."""
    models = subparsers.add_parser("models", help="list, add or choose model files")
    actions = models.add_subparsers(dest="models_action", required=True)
    actions.add_parser("list", help="catalogue, added files and the one in use").set_defaults(
        handler=run_list
    )
    add = actions.add_parser("add", help="verify a .gguf file and remember it")
    add.add_argument("path", type=Path)
    add.set_defaults(handler=run_add)
    use = actions.add_parser("use", help="run Engram with this model from now on")
    use.add_argument("name")
    use.set_defaults(handler=run_use)


def run_list(_: argparse.Namespace) -> int:
    from app.llm import catalogue

    root = data_dir()
    manifest = catalogue.load_manifest()
    settings = Settings.load(root)
    current = settings.model_path
    builtin = catalogue.builtin_path()
    print("In use:", current or f"{catalogue.BUILTIN} (built-in)")
    print("\nYour models:")
    state = "installed" if builtin else "missing (run the installer)"
    print(f"  {catalogue.BUILTIN:<28} built-in, {state}")
    for model in catalogue.load_registry(root).models:
        here = "" if Path(model.path).exists() else "  [file missing]"
        check = "verified" if model.verified else "not in the catalogue"
        print(f"  {model.name:<28} {model.path} ({check}){here}")
    print("\nCatalogue (download yourself, then `engram models add FILE`):")
    for entry in manifest.models:
        print(
            f"  {entry.name:<28} {entry.file}  {entry.size_bytes / GB:.1f} GB, "
            f"ctx {entry.context}, {entry.licence}, GPU >= {entry.min_vram_gb} GB"
        )
    return 0


def run_add(args: argparse.Namespace) -> int:
    from app.llm import catalogue

    record = catalogue.add(data_dir(), args.path.expanduser(), catalogue.load_manifest())
    how = "matches the catalogue" if record.verified else "valid GGUF, not in the catalogue"
    print(f"added '{record.name}' ({how}; sha256 {record.sha256[:12]}…)")
    print(f"use it with: engram models use {record.name}")
    return 0


def run_use(args: argparse.Namespace) -> int:
    from app.llm import catalogue
    from app.llm.models import check_gguf

    root = data_dir()
    path = catalogue.resolve(root, args.name)
    if path is not None:
        check_gguf(path)  # still there and still a GGUF
    settings = Settings.load(root)
    settings.model_path = str(path) if path else None
    settings.save(root)
    print(f"Engram will use {args.name} from the next start.")
    return 0
