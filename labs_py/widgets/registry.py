"""Find an Explorable by the key printed on the page (``"economics.ledgers"``), and rebuild it.

The browser test uses this to compute, in Python, what the static page should
show for any combination of control values.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import labs_py.widgets as widgets_pkg
from labs_py.widgets.explorable import Explorable

INFRASTRUCTURE = {"explorable", "figure", "registry"}


def build(key: str, **kwargs: Any) -> Explorable:
    """Rebuild the Explorable whose key is ``"<module>.<factory>"``, with the same keyword arguments."""
    module_name, _, factory_name = key.rpartition(".")
    if not module_name:
        raise ValueError(f"an explorable key looks like 'module.factory'; got {key!r}")
    module = importlib.import_module(f"labs_py.widgets.{module_name}")
    factory = getattr(module, factory_name, None)
    if factory is None or not getattr(factory, "is_explorable_factory", False):
        raise ValueError(f"no explorable factory {factory_name!r} in labs_py.widgets.{module_name}")
    return factory(**kwargs)


def all_keys() -> list[str]:
    """Every factory key in every chapter module of ``labs_py.widgets``."""
    keys = []
    for info in pkgutil.iter_modules(widgets_pkg.__path__):
        if info.name in INFRASTRUCTURE:
            continue
        module = importlib.import_module(f"labs_py.widgets.{info.name}")
        for name, obj in inspect.getmembers(module):
            if getattr(obj, "is_explorable_factory", False) and obj.__module__ == module.__name__:
                keys.append(f"{info.name}.{name}")
    return sorted(keys)
