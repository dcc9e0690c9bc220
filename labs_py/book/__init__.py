"""The book's machinery: interactive figures, plain figures, exercise checks, and the Sphinx extension.

It knows nothing about serving; it depends only on the foundations
(:mod:`labs_py.core`). Its public interface:

* :class:`Explorable`, :class:`Slider`, :class:`Dropdown`, :func:`explorable_factory`
  (:mod:`labs_py.book.explorable`): an interactive figure, described once;
* :mod:`labs_py.book.static` and :mod:`labs_py.book.live`: the two renderers
  (the built site, a Jupyter kernel), chosen by :mod:`labs_py.book.display`;
* :func:`figure` (:mod:`labs_py.book.figure`): a plain figure with its text alternative;
* :class:`Exercise`, :class:`Exercises` (:mod:`labs_py.book.exercises`): a chapter's checks;
* :mod:`labs_py.book.registry`: rebuild an explorable from the key on a page;
* :mod:`labs_py.book.sphinx`: the Sphinx extension (self-contained assets, the static kernel);
* :mod:`labs_py.book.notebooks`: the stored form of the chapters.
"""

from labs_py.book.exercises import Exercise, Exercises
from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.book.figure import StaticFigure, figure

__all__ = [
    "Dropdown",
    "Exercise",
    "Exercises",
    "Explorable",
    "Slider",
    "StaticFigure",
    "explorable_factory",
    "figure",
]
