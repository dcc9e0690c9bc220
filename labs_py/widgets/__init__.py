"""Wiring: controls to figures. ``explorable`` is the mechanism; the chapter modules
(``labs_py.widgets.economics`` and friends) wire ``labs_py`` computations to
``labs_py.viz`` figure builders. Nothing here computes a number of its own.
"""

from labs_py.widgets.explorable import Dropdown, Explorable, Slider, display_mode, explorable_factory
from labs_py.widgets.figure import StaticFigure, figure

__all__ = ["Dropdown", "Explorable", "Slider", "StaticFigure", "display_mode", "explorable_factory", "figure"]
