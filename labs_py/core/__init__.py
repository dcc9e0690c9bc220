"""Foundations that every layer uses: input checks, number formatting, percentiles, catalog loading.

Nothing here knows about models, GPUs or serving; the catalogs (``labs_py.models``,
``labs_py.gpus``, ``labs_py.links``) sit beside this package on the same floor.
"""
