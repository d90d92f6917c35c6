"""Model & settings: saved to settings.json, the model reloaded in the worker, window usable."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.config import Settings
from app.llm.scripted import reply
from app.runtime import Runtime
from app.ui.main_window import MainWindow
from app.ui.settings_dialog import DEMO_LABEL, local_models, needs_reload
from tests.ui.conftest import SlowBackend
from tests.ui.test_main_window import type_and_send


def test_needs_reload_only_for_what_llama_cpp_reads() -> None:
    old = Settings()
    assert not needs_reload(old, old.model_copy(update={"temperature": 0.7}))
    assert needs_reload(old, old.model_copy(update={"gpu_layers": 0}))
    assert needs_reload(old, old.model_copy(update={"model_path": "/m/x.gguf"}))


def test_local_models_lists_gguf_files_once(tmp_path: Path) -> None:
    (tmp_path / "b.gguf").write_bytes(b"")
    (tmp_path / "a.gguf").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in local_models(tmp_path, tmp_path, tmp_path / "nope")] == [
        "a.gguf",
        "b.gguf",
    ]


def test_temperature_change_is_saved_without_a_reload(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    dialog = window.open_model_settings()
    assert "scripted — on CPU" in dialog.running.text()
    assert dialog.model.currentText() == DEMO_LABEL
    assert dialog.context.text() == "automatic" and dialog.gpu_layers.text() == "automatic"
    dialog.temperature.setValue(0.7)
    loads: list[Settings] = []
    window.worker.load_for = lambda s: loads.append(s) or SlowBackend()  # type: ignore[func-returns-value]
    dialog.save_button.click()
    saved = json.loads((runtime.root / "settings.json").read_text(encoding="utf-8"))
    assert saved["temperature"] == 0.7 and saved["model_path"] is None
    qtbot.waitUntil(lambda: runtime.settings.temperature == 0.7, timeout=3000)
    assert loads == [] and window.model_ready
    assert Settings.load(runtime.root).temperature == 0.7


def test_new_model_loads_in_the_worker_while_the_window_stays_usable(
    qtbot: QtBot, window: MainWindow, runtime: Runtime, tmp_path: Path
) -> None:
    gate = threading.Event()
    new_backend = SlowBackend([reply("Fresh model here.")], context_window=2048)

    def load(settings: Settings) -> SlowBackend:
        gate.wait(5)
        return new_backend

    window.worker.load_for = load
    dialog = window.open_model_settings()
    model = tmp_path / "bigger.gguf"
    dialog.select_model(str(model))
    dialog.context.setValue(2048)
    dialog.gpu_layers.setValue(0)
    dialog.threads.setValue(2)
    dialog.save_button.click()
    assert "Loading" in window.model_label.text() and not window.model_ready
    saved = Settings.load(runtime.root)
    assert (saved.model_path, saved.context_window, saved.gpu_layers, saved.threads) == (
        str(model),
        2048,
        0,
        2,
    )
    type_and_send(qtbot, window, "still there?")  # the window answers while the model loads
    qtbot.waitUntil(lambda: window.chat.bubbles()[-1].text == "still there?", timeout=3000)
    gate.set()
    qtbot.waitUntil(lambda: "2,048 tokens" in window.model_label.text(), timeout=5000)
    assert window.model_ready and not window.demo
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "Fresh model here.", timeout=5000)
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    assert runtime.backend is new_backend


def test_a_model_that_fails_to_reload_is_reported(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    from app.core.errors import ModelError

    def load(settings: Settings) -> SlowBackend:
        raise ModelError("broken.gguf is not a GGUF model file.")

    window.worker.load_for = load
    dialog = window.open_model_settings()
    dialog.select_model("/nowhere/broken.gguf")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.model_label.text() == "No model loaded", timeout=5000)
    assert "not a GGUF" in window.error_banner.text.text()
    qtbot.waitUntil(lambda: not window.busy, timeout=3000)
    assert not window.model_ready and runtime.backend is None


def test_every_control_has_an_accessible_name(window: MainWindow) -> None:
    """Inputs, lists and icon-only buttons of the window's panels and the settings dialog carry
    a name a screen reader can say (Qt's own sub-widgets, named qt_*, are left out)."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QHeaderView,
        QLineEdit,
        QPlainTextEdit,
        QTextEdit,
        QWidget,
    )

    def inside_compound(w: QWidget, top: QWidget) -> bool:
        parent = w.parentWidget()
        while parent is not None and parent is not top:
            if isinstance(parent, QAbstractSpinBox | QComboBox | QLineEdit):
                return True
            parent = parent.parentWidget()
        return False

    dialog = window.open_model_settings()
    panels = [
        window.chat,
        window.agents,
        window.memory,
        window.recall,
        window.archival,
        window.context,
        window.documents_panel,
        dialog,
    ]
    inputs = (QLineEdit, QPlainTextEdit, QTextEdit, QAbstractSpinBox, QComboBox, QAbstractItemView)
    unnamed = []
    for panel in panels:
        for w in panel.findChildren(QWidget):
            if w.objectName().startswith("qt_") or isinstance(w, QHeaderView):
                continue
            if inside_compound(w, panel):
                continue  # the parts of a compound control speak through the control
            if isinstance(w, QAbstractButton):
                if not (w.accessibleName() or w.text().replace("&", "").strip()):
                    unnamed.append(f"{type(panel).__name__}: button {w.toolTip()!r}")
            elif isinstance(w, inputs) and not w.accessibleName():
                unnamed.append(f"{type(panel).__name__}: {type(w).__name__}")
    dialog.close()
    assert unnamed == []


def test_deferred_archival_opens_once_on_first_use() -> None:
    from app.ui.startup import DeferredArchival
    from tests.fakes import InMemoryArchival

    opened: list[InMemoryArchival] = []

    def open_store() -> InMemoryArchival:
        opened.append(InMemoryArchival())
        return opened[-1]

    lazy = DeferredArchival(open_store)
    assert opened == []
    assert lazy.count("a") == 0
    lazy.insert("a", ["one passage"])
    assert lazy.count("a") == 1 and len(opened) == 1
    assert not hasattr(lazy, "__fspath__")  # dunder lookups never open the store
