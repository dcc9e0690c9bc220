"""Per-chapter content that is not a figure: the exercises each chapter registers."""

from labs_py.chapters import economics, migration, why  # noqa: F401
