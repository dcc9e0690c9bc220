"""Find an Explorable by the key printed on the page (``"disaggregation_trade.ledgers"``), and rebuild it.

A key is ``"<chapter>.<factory>"``: the factory is a function decorated with
:func:`~labs_py.book.explorable.explorable_factory` in
``labs_py.chapters.<chapter>.panels``. The browser test uses this to compute, in
Python, what the static page should show for any combination of control values.
Chapters are found by name at run time, so this machinery does not import them.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from typing import Any

from labs_py.book.explorable import CHAPTERS_PACKAGE, Explorable

__all__ = ["build", "all_keys", "chapters_with_panels"]


def build(key: str, **kwargs: Any) -> Explorable:
    """Rebuild the Explorable whose key is ``"<chapter>.<factory>"``, with the same keyword arguments.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    chapter, _, factory_name = key.rpartition(".")
    if not chapter:
        raise ValueError(f"an explorable key looks like 'chapter.factory'; got {key!r}")
    module_name = f"{CHAPTERS_PACKAGE}.{chapter}.panels"
    if importlib.util.find_spec(f"{CHAPTERS_PACKAGE}.{chapter}") is None:
        raise ValueError(f"no chapter {chapter!r} in {CHAPTERS_PACKAGE} (key {key!r})")
    module = importlib.import_module(module_name)
    factory = getattr(module, factory_name, None)
    if factory is None or not getattr(factory, "is_explorable_factory", False):
        raise ValueError(f"no explorable factory {factory_name!r} in {module_name}")
    return factory(**kwargs)


def chapters_with_panels() -> list[str]:
    """Every chapter package that has a ``panels`` module.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    package = importlib.import_module(CHAPTERS_PACKAGE)
    return sorted(
        info.name
        for info in pkgutil.iter_modules(package.__path__)
        if info.ispkg
        and importlib.util.find_spec(f"{CHAPTERS_PACKAGE}.{info.name}.panels")
    )


def all_keys() -> list[str]:
    """Every factory key of every chapter's panels.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    keys = []
    for chapter in chapters_with_panels():
        module = importlib.import_module(f"{CHAPTERS_PACKAGE}.{chapter}.panels")
        for name, obj in inspect.getmembers(module):
            if (
                getattr(obj, "is_explorable_factory", False)
                and obj.__module__ == module.__name__
            ):
                keys.append(f"{chapter}.{name}")
    return sorted(keys)
