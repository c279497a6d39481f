"""Names that a package loads from its submodules on first use (PEP 562).

A package lists `{name: submodule}` and takes `__getattr__` and `__dir__`
from `lazy_names`; importing the package then imports none of those
submodules (nor the backends they need) until a name is read. The table
stays a literal, so that `tests/house/test_import_graph.py` can read it
without importing anything.
"""

import importlib
import sys


def lazy_names(package, names):
    """`(__getattr__, __dir__)` for the package called `package`, whose
    `names` ({name: submodule}) load on first use. Each use reads the name
    from its submodule again (not kept in the package), so that a name
    replaced there (a test's monkeypatch, say) is what the package gives."""
    namespace = vars(sys.modules[package])

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{names[name]}"), name)

    def __dir__():
        return sorted({*namespace, *names})

    return __getattr__, __dir__
