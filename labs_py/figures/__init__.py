"""Drawing, shared by every chapter: the book's style, plotly specs, and pieces several chapters draw.

Pure: data in, plotly specs out. Nothing here computes a number the book states,
and nothing here displays (that is :mod:`labs_py.book`). Each chapter's own
builders live in ``labs_py/chapters/<chapter>/figures.py``.
"""
