"""Per-chapter content that is not a figure: the exercises each chapter registers."""

from labs_py.chapters import economics  # noqa: F401
from labs_py.chapters import serving  # noqa: F401
