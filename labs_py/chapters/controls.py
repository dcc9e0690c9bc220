"""Controls that several chapters share: a prompt length, a model, a link, a chunk size.

Each is defined once, so the same control reads the same way in every chapter
(same name, same label, same units). A chapter picks the values it needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from labs_py.book.explorable import Dropdown, Slider
from labs_py.defaults import DEFAULT_GPU, DEFAULT_MODEL
from labs_py.links import get_link
from labs_py.models import all_models
from labs_py.steptime import placement

__all__ = [
    "NO_CHUNKING",
    "SLIDER_LINKS",
    "prompt_slider",
    "model_control",
    "link_control",
    "link_slider",
    "chunk_slider",
    "chunk_value",
    "fmt_ms",
    "fmt_rps",
]

#: A chunk-size control's stand-in for "no chunking" (control values must be numbers or strings).
NO_CHUNKING = 0
#: Links on the link sliders: the catalog's, by id, slowest first.
SLIDER_LINKS = ("10gbe", "25gbe", "100gbe", "ib-hdr", "ib-ndr", "nvlink4")


def prompt_slider(
    values: Sequence[int], default: int, label: str = "Prompt", fmt: str = "{:,} tokens"
) -> Slider:
    """A prompt length in tokens (the control is named ``prompt_tokens``)."""
    return Slider("prompt_tokens", label, tuple(values), default, fmt=fmt)


def model_control(
    default: str = DEFAULT_MODEL, gpus: Sequence[str] = (DEFAULT_GPU,)
) -> Dropdown:
    """The catalog models that fit on each of ``gpus`` (the control is named ``model``; its values are repo ids).

    A model is offered only where it fits at some tensor-parallel degree
    (:func:`labs_py.steptime.placement.fitting_tp`); with one GPU, the label says how
    many of it the model needs when that is more than one ("Llama-3.1-70B (TP=2)").
    """
    options = []
    for m in all_models():
        fits = [placement.fitting_tp(m, g) for g in gpus]
        if all(fits):
            tp = fits[0][0]
            options.append(
                (
                    m.short_name
                    if len(gpus) > 1 or tp == 1
                    else f"{m.short_name} (TP={tp})",
                    m.id,
                )
            )
    return Dropdown("model", "Model", tuple(options), default)


def link_control(default: float = 200.0) -> Slider:
    """The catalog's links from 10 GbE to NVLink, in Gb/s one way (the control is named ``link_gbps``)."""
    return Slider(
        "link_gbps",
        "Link",
        tuple(get_link(i).gbps for i in SLIDER_LINKS),
        default,
        fmt="{:g} Gb/s",
    )


def link_slider(values: Sequence[float], default: float) -> Slider:
    """A link speed in Gb/s from a chapter's own values (the control is named ``link_gbps``)."""
    return Slider("link_gbps", "Link", tuple(values), default, fmt="{:g} Gb/s")


def chunk_slider(values: tuple[int, ...], default: int = 512) -> Slider:
    """A prefill chunk size in tokens, with :data:`NO_CHUNKING` shown as "no chunking"."""
    names = tuple(
        "no chunking" if v == NO_CHUNKING else f"{v:,} tokens" for v in values
    )
    return Slider("chunk_tokens", "Prefill chunk", values, default, value_labels=names)


def chunk_value(value: int) -> int | None:
    """A chunk control's value as the simulator takes it (``None`` for no chunking)."""
    return None if value == NO_CHUNKING else int(value)


def fmt_ms(x: float) -> str:
    """Milliseconds for a readout, 3 significant digits."""
    return f"{x:.3g} ms"


def fmt_rps(x: float) -> str:
    """Requests per second for a readout, 3 significant digits."""
    return f"{x:.3g} req/s"
