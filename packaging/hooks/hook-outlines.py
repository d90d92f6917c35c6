"""PyInstaller hook for outlines: `import outlines` reads its Lark grammars
(outlines/grammars/*.lark) from files next to the module, which import analysis never sees.
Without them the first constrained call fails with FileNotFoundError (arithmetic.lark)."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("outlines", includes=["**/*.lark"])
