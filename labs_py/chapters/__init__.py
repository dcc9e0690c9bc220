"""Per-chapter content that is not a figure: the exercises each chapter registers."""

from labs_py.chapters import compression, economics, migration, pair, serving, why  # noqa: F401
