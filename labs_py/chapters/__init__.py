"""The chapters: what joins the library to the book, one package per notebook.

``labs_py/chapters/<chapter>/`` is named after ``notebooks/<chapter>.ipynb`` and holds:

* ``figures.py``: the chapter's figure builders (data in, plotly specs out; they only draw);
* ``panels.py``: its explorables (controls wired to ``labs_py`` computations and to the figures);
* ``exercises.py``: its exercises, whose answers are computed there and nowhere else;
* ``experiment.py``, where a chapter runs one: which fleets, which workloads, which numbers it reads off.

:mod:`labs_py.chapters.controls` holds the controls several chapters share.
Nothing below this package imports it.
"""
