"""PyInstaller hook for llama-cpp-python: its shared libraries (libllama, libggml*, libmtmd)
sit in llama_cpp/lib and are opened with ctypes by path, so import analysis never sees them.
Without this the bundle fails with "Shared library with base name 'llama' not found"."""

from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("llama_cpp")
