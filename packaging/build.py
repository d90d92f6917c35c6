"""Build the Engram bundle and its release archive: what `scripts/package` runs.

`build()` runs PyInstaller on packaging/engram.spec (dist/Engram/), `archive()` packs the
bundle with install.sh, uninstall.sh, the .desktop file and the icon into
Engram-linux-x86_64.tar.gz, and `breakdown()` says what takes the space, by package, because
the bundle's size is dominated by a few native libraries and it is worth knowing which.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
DIST = ROOT / "dist"
BUNDLE = DIST / "Engram"
ARCHIVE_NAME = "Engram-linux-x86_64"
RELEASE_FILES = ("install.sh", "uninstall.sh", "engram.desktop", "engram.png")
MB = 1024 * 1024


def build() -> float:
    """Run PyInstaller; the seconds it took. Raises CalledProcessError when it fails."""
    began = time.monotonic()
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
        "--distpath", str(DIST), "--workpath", str(ROOT / "build" / "pyinstaller"),
        str(PACKAGING / "engram.spec"),
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT)
    return time.monotonic() - began


def archive(bundle: Path = BUNDLE, out_dir: Path = DIST) -> Path:
    """Engram-linux-x86_64.tar.gz: the bundle plus what installs it."""
    target = out_dir / f"{ARCHIVE_NAME}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=3) as tar:
        tar.add(bundle, arcname=f"{ARCHIVE_NAME}/Engram")
        for name in RELEASE_FILES:
            tar.add(PACKAGING / name, arcname=f"{ARCHIVE_NAME}/{name}")
    return target


def tree_bytes(folder: Path) -> int:
    """Bytes of the regular files under `folder` (links counted once, as their target)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def breakdown(bundle: Path = BUNDLE, top: int = 14) -> list[tuple[str, float]]:
    """(part, MB) for the biggest parts of the bundle: packages, and the largest libraries of
    the two that dominate (torch, Qt) on their own lines."""
    internal = bundle / "_internal"
    sizes: Counter[str] = Counter()
    for path in internal.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(internal).parts
        key = rel[0]
        if key.endswith((".so", ".dylib", ".dll")) or ".so." in key:
            key = "(shared libraries at top level)"
        elif key in ("torch", "PySide6") and path.stat().st_size > 20 * MB:
            key = "/".join(rel)
        sizes[key] += path.stat().st_size
    rows = [(name, size / MB) for name, size in sizes.most_common()]
    shown = rows[:top]
    rest = sum(mb for _, mb in rows[top:])
    return [*shown, (f"({len(rows) - top} other parts)", rest)] if rest else shown


def print_breakdown(rows: list[tuple[str, float]], total_mb: float) -> None:
    print(f"{'part of dist/Engram':<52} {'MB':>8} {'share':>6}")
    for name, mb in rows:
        print(f"{name:<52} {mb:>8.1f} {mb / total_mb:>6.1%}")
    print(f"{'total':<52} {total_mb:>8.1f}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/package", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="run the built bundle (chat, window)")
    parser.add_argument("--shot", type=Path, help="with --smoke: Xvfb screenshot into this folder")
    parser.add_argument("--no-build", action="store_true", help="reuse dist/Engram as it is")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    seconds = 0.0 if args.no_build else build()
    if not BUNDLE.joinpath("engram").exists():
        print(f"no bundle at {BUNDLE}")
        return 1
    print(f"pyinstaller: {seconds:.0f} s")
    total = tree_bytes(BUNDLE) / MB
    print_breakdown(breakdown(), total)
    began = time.monotonic()
    target = archive()
    tar_mb = target.stat().st_size / MB
    print(f"{target.name}: {tar_mb:.0f} MB ({time.monotonic() - began:.0f} s)")
    summary: dict[str, object] = {"bundle_mb": round(total, 1), "archive_mb": round(tar_mb, 1),
                                  "build_s": round(seconds, 1)}  # fmt: skip
    code = 0
    if args.smoke:
        from smoke import run_smoke

        result = run_smoke(BUNDLE, args.shot)
        times = result.window_times
        summary = {
            "smoke_ok": result.ok,
            **summary,
            "window_visible_s": round(statistics.median(times), 2) if times else None,
            "window_visible_first_s": round(times[0], 2) if times else None,
            "chat_s": round(result.chat_s, 1),
            "read_only_ok": result.bundle_unchanged,
        }
        code = 0 if result.ok else 1
    print(json.dumps(summary))
    return code


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main(sys.argv[1:]))
