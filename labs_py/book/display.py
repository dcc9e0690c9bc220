"""Where the book's figures are being shown: in a live kernel, or on the static site being built.

One setting decides how an :class:`~labs_py.book.explorable.Explorable` or a
:class:`~labs_py.book.figure.StaticFigure` renders when a notebook cell shows it:

* ``"live"`` (the default): an ipywidgets panel that recomputes
  (:mod:`labs_py.book.live`). Jupyter, nbval, scripts and tests run like this.
* ``"static"``: kernel-free HTML with every combination precomputed
  (:mod:`labs_py.book.static`). The book build runs like this: its Sphinx
  extension (:mod:`labs_py.book.sphinx`) starts every chapter in a kernel whose
  start-up line is ``labs_py.book.display.use("static")``.

Code that wants one mode for a while says so: ``with showing("static"): ...``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from labs_py.book import live, static
from labs_py.book.protocols import ExplorableLike, FigureLike
from labs_py.core.validate import one_of

__all__ = ["MODES", "current", "use", "showing", "explorable_bundle", "figure_bundle"]

MODES: tuple[str, ...] = ("live", "static")
_mode = "live"


def current() -> str:
    """The display mode of this process: ``"live"`` or ``"static"``.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return _mode


def use(mode: str) -> None:
    """Set the display mode of this process (the book build's kernels call ``use("static")``).

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    global _mode
    _mode = one_of("mode", mode, MODES, "display mode")


@contextmanager
def showing(mode: str) -> Iterator[None]:
    """Show figures in ``mode`` inside the ``with`` block, then go back to the previous mode.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    before = current()
    use(mode)
    try:
        yield
    finally:
        use(before)


def explorable_bundle(ex: ExplorableLike, include=None, exclude=None) -> dict:
    """The MIME bundle a notebook cell shows for an explorable, in the current mode.

    The ``text/plain`` entry is the same in both modes, the explorable's title and
    default readout, so a ``# NBVAL_CHECK_OUTPUT`` cell that shows one has its
    numbers compared by nbval (which skips widget data).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    text = ex.readout_text()
    if current() == "static":
        return {"text/html": static.explorable_html(ex), "text/plain": text}
    bundle = live.panel(ex)._repr_mimebundle_(include=include, exclude=exclude)
    bundle["text/plain"] = text
    return bundle


def figure_bundle(fig: FigureLike, include=None, exclude=None) -> dict:
    """The MIME bundle a notebook cell shows for a plain figure, in the current mode.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    if current() == "static":
        return {
            "text/html": static.figure_html(fig),
            "text/plain": f"[figure] {fig.alt}",
        }
    return live.figure_widget(fig)._repr_mimebundle_(include=include, exclude=exclude)
