"""Modules a library imports at its top only for functions a job never calls.

PyDESeq2's `utils` imports `matplotlib.pyplot` (for its plots) and
`sklearn.linear_model` (for `LinearRegression` in the rough dispersions of its default
engine): about 0.5 s of CPU in every job that imports `pydeseq2.dds`, for code the
project's engine does not run. While `deferred_imports()` is active, those two modules
are placeholders; a name read from one during the import (`from sklearn.linear_model
import LinearRegression`) becomes a stand-in that imports the real module when called,
and an attribute read from a placeholder later (`plt.subplots`) imports the real module.
Once the context has ended, any other import gets the real modules.
"""

from __future__ import annotations

import importlib
import sys
import types
from contextlib import contextmanager

PYDESEQ2_UNUSED = ("matplotlib.pyplot", "sklearn.linear_model")


def _real(name: str) -> types.ModuleType:
    module = sys.modules.get(name)
    if isinstance(module, _Placeholder):
        del sys.modules[name]
    return importlib.import_module(name)


def _stand_in(module: str, name: str):
    def call(*args, **kwargs):
        return getattr(_real(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class _Placeholder(types.ModuleType):
    importing = True  # False once the context has ended

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if self.importing:
            return _stand_in(self.__name__, name)
        return getattr(_real(self.__name__), name)


@contextmanager
def deferred_imports(names=PYDESEQ2_UNUSED):
    """Import the library inside this context: `names` (modules not yet imported)
    are placeholders until used."""
    placed = {}
    for name in names:
        if name not in sys.modules:
            placed[name] = sys.modules[name] = _Placeholder(name)
    try:
        yield
    finally:
        for name, placeholder in placed.items():
            placeholder.importing = False
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]
