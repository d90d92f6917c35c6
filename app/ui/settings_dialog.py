"""Model & settings: which GGUF runs, how (context, GPU layers, threads), and its temperature.

A non-modal dialog: the window and the agent keep working while it is open. "Save" writes
`settings.json` (app.config.Settings, the file the terminal chat reads too) and emits `applied`
with the new settings and whether the model must be reloaded; the worker then reloads it in its
own thread while the window stays usable. Nothing here loads or checks a model file.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.config import Settings
from app.ui.bubbles import dim_label

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEMO_LABEL = "Built-in demo model (SmolLM2-135M, not smart)"
AUTOMATIC = "automatic"
GPU_NOTE = "Automatic puts every layer on the GPU when there is one; 0 keeps it on the CPU."
TEMPERATURE_NOTE = "0 answers the same way every time; higher is more varied."
RELOAD_FIELDS = ("model_path", "context_window", "gpu_layers", "threads")


def local_models(*folders: Path) -> list[Path]:
    """The .gguf files in `folders` (not recursive), sorted, without duplicates."""
    found: dict[Path, None] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.gguf")):
                found.setdefault(path.resolve(), None)
    return list(found)


def needs_reload(old: Settings, new: Settings) -> bool:
    """Whether the change reaches llama.cpp (a temperature is read at every call)."""
    return any(getattr(old, name) != getattr(new, name) for name in RELOAD_FIELDS)


def _spin(maximum: int, step: int, special: str, name: str, minimum: int = 0) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(minimum, maximum)
    spin.setSingleStep(step)
    spin.setSpecialValueText(special)  # shown at the minimum: "automatic"
    spin.setAccessibleName(name)
    return spin


class ModelSettingsDialog(QDialog):
    """Pick the model and how it runs; `applied(Settings, reload)` on Save."""

    applied = Signal(object, bool)

    def __init__(
        self, settings: Settings, root: Path, running: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model & settings")
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._settings = settings
        self._root = root
        self.running = QLabel(running or "No model is loaded.")
        self.running.setAccessibleName("Current model")
        self.running.setWordWrap(True)
        self.model = QComboBox()
        self.model.setAccessibleName("Model file")
        self.model.setMinimumContentsLength(40)
        self.browse = QPushButton("Choose a file…")
        self.browse.setAccessibleName("Choose a model file")
        self.browse.clicked.connect(self.choose_file)
        self.context = _spin(131_072, 512, AUTOMATIC, "Context size in tokens")
        self.gpu_layers = _spin(999, 1, AUTOMATIC, "Layers on the GPU", minimum=-1)
        self.threads = _spin(max(os.cpu_count() or 1, 1) * 2, 1, AUTOMATIC, "CPU threads")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setAccessibleName("Temperature")
        self.follow_ups = QCheckBox("Ask a follow-up question after a journal entry")
        self.follow_ups.setAccessibleName("Journal follow-up questions")
        self.auto_reviews = QCheckBox("Write weekly and monthly journal reviews at launch")
        self.auto_reviews.setAccessibleName("Automatic journal reviews")
        self._fill(settings)
        self._build_layout()

    def _build_layout(self) -> None:
        picker = QHBoxLayout()
        picker.addWidget(self.model, 1)
        picker.addWidget(self.browse)
        form = QFormLayout()
        form.addRow("Running now:", self.running)
        form.addRow("Model:", picker)
        form.addRow("", dim_label(f"GGUF files in {MODELS_DIR} are listed here.", wrap=False))
        form.addRow("Context size:", self.context)
        form.addRow("GPU layers:", self.gpu_layers)
        form.addRow("", dim_label(GPU_NOTE, wrap=False))
        form.addRow("CPU threads:", self.threads)
        form.addRow("Temperature:", self.temperature)
        form.addRow("", dim_label(TEMPERATURE_NOTE, wrap=False))
        form.addRow("Journal:", self.follow_ups)
        form.addRow("", self.auto_reviews)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.note = dim_label(f"Saved to {self._root / 'settings.json'}.")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)

    def _fill(self, s: Settings) -> None:
        self.model.addItem(DEMO_LABEL, None)
        for path in local_models(MODELS_DIR, self._root / "models"):
            self.model.addItem(path.name, str(path))
        if s.model_path:
            self.select_model(s.model_path)
        self.context.setValue(s.context_window or 0)
        self.gpu_layers.setValue(-1 if s.gpu_layers is None else s.gpu_layers)
        self.threads.setValue(s.threads or 0)
        self.temperature.setValue(s.temperature)
        self.follow_ups.setChecked(s.journal_follow_ups)
        self.auto_reviews.setChecked(s.journal_auto_reviews)

    def select_model(self, path: str) -> None:
        """Show `path` in the list (added when it is not there) and select it."""
        wanted = str(Path(path).expanduser())
        for i in range(self.model.count()):
            if self.model.itemData(i) == wanted:
                self.model.setCurrentIndex(i)
                return
        self.model.addItem(Path(wanted).name, wanted)
        self.model.setItemData(self.model.count() - 1, wanted, Qt.ItemDataRole.ToolTipRole)
        self.model.setCurrentIndex(self.model.count() - 1)

    def choose_file(self) -> None:
        start = str(MODELS_DIR if MODELS_DIR.is_dir() else Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", start, "GGUF (*.gguf)")
        if path:
            self.select_model(path)

    def chosen(self) -> Settings:
        """The settings as the form shows them."""
        context = self.context.value()
        layers = self.gpu_layers.value()
        return self._settings.model_copy(
            update={
                "model_path": self.model.currentData(),
                "context_window": max(context, 512) if context else None,
                "gpu_layers": None if layers < 0 else layers,
                "threads": self.threads.value() or None,
                "temperature": round(self.temperature.value(), 2),
                "journal_follow_ups": self.follow_ups.isChecked(),
                "journal_auto_reviews": self.auto_reviews.isChecked(),
            }
        )

    def save(self) -> None:
        new = Settings.model_validate(self.chosen().model_dump())
        new.save(self._root)
        reload = needs_reload(self._settings, new)
        self._settings = new
        self.applied.emit(new, reload)
        self.accept()
