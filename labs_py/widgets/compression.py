"""Wiring for the chapter "KV compression and pooled KV"."""

from __future__ import annotations

import numpy as np

from labs_py import economics as econ
from labs_py import pooling
from labs_py.fmt import fmt_gbps, fmt_seconds
from labs_py.gpus import all_gpus
from labs_py.links import get_link
from labs_py.models import all_models, get_model
from labs_py.steptime import prefill_seconds
from labs_py.viz import compression as viz
from labs_py.widgets.economics import _model_control
from labs_py.widgets.explorable import Dropdown, Explorable, Slider, explorable_factory

GPU = "H100-SXM"
DTYPES = ("bf16", "fp8")
BOUNDARY_LINKS = ("10gbe", "100gbe", "ib-ndr", "nvlink4")
FETCH_LINKS = ("25gbe", "100gbe", "ib-ndr", "pcie5-x16")
PREFIXES = np.unique(np.geomspace(64, 32768, 19).round().astype(int))


def _short(link_id: str) -> str:
    return get_link(link_id).name.split(" (")[0]


def breakeven_by_model(prompt_tokens: int, max_ttft_penalty: float) -> dict[str, list[float]]:
    """Per KV dtype, the split's break-even link (Gb/s) for each catalog model on one H100 SXM."""
    out: dict[str, list[float]] = {}
    for dtype in DTYPES:
        out[dtype] = [econ.breakeven_link_gbps(econ.kv_payload_bytes(prompt_tokens, m.kv_bytes_per_token(dtype)),
                                               prefill_seconds(m, prompt_tokens, GPU), max_ttft_penalty)
                      for m in all_models()]
    return out


def _boundary_spec(prompt_tokens, max_ttft_penalty):
    return viz.breakeven_figure([m.short_name for m in all_models()], breakeven_by_model(prompt_tokens, max_ttft_penalty),
                                {_short(i): get_link(i).gbps for i in BOUNDARY_LINKS})


def _boundary_readout(prompt_tokens, max_ttft_penalty):
    be = breakeven_by_model(prompt_tokens, max_ttft_penalty)
    names = [m.short_name for m in all_models()]
    cheapest = names[int(np.argmin(be["fp8"]))]
    return {
        "Llama-3.1-8B, bf16 -> fp8": f"{fmt_gbps(be['bf16'][names.index('Llama-3.1-8B')])} -> "
                                     f"{fmt_gbps(be['fp8'][names.index('Llama-3.1-8B')])}",
        "DeepSeek-V3 (MLA), bf16": fmt_gbps(be["bf16"][names.index("DeepSeek-V3")]),
        "most affordable split (fp8)": cheapest,
    }


@explorable_factory
def boundary() -> Explorable:
    """How KV compression moves the link speed at which the split starts to pay."""
    return Explorable(
        title=f"Compression moves the boundary: the slowest link at which the split pays (prefill on one {GPU})",
        controls=(
            Slider("prompt_tokens", "Prompt", (512, 2048, 8192, 32768), 2048, fmt="{:,} tokens"),
            Slider("max_ttft_penalty", "TTFT budget", (0.05, 0.10, 0.25), 0.10, fmt="{:.0%} of prefill"),
        ),
        figure_fn=_boundary_spec,
        readout_fn=_boundary_readout,
        alt=("Bars give, for each catalog model and for bf16 and FP8 KV caches, the slowest link at which the KV "
             "transfer stays within the TTFT budget, on a log scale, with dotted lines at common links. FP8 halves "
             "every bar. Models with few KV heads for their size, and DeepSeek-V3's latent cache, need far slower "
             "links than their parameter counts suggest."),
    )


def fetch_curves(model: str, kv_dtype: str, gpu: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Recompute time per prefix length, and fetch time over each pooled-KV link."""
    priced = {i: [pooling.fetch_or_recompute(model, int(n), get_link(i).gbps, gpu, kv_dtype=kv_dtype) for n in PREFIXES]
              for i in FETCH_LINKS}
    recompute = np.array([p.recompute_s for p in priced[FETCH_LINKS[0]]])
    return recompute, {f"{_short(i)} ({get_link(i).gbps:g} Gb/s)": np.array([p.fetch_s for p in v]) for i, v in priced.items()}


def _fetch_spec(model, kv_dtype, gpu):
    recompute, fetch = fetch_curves(model, kv_dtype, gpu)
    return viz.fetch_vs_recompute_figure(PREFIXES, recompute, fetch)


def _fetch_readout(model, kv_dtype, gpu):
    r = pooling.fetch_or_recompute(model, 4096, 100.0, gpu, kv_dtype=kv_dtype)
    return {
        "4,096-token prefix: recompute": fmt_seconds(r.recompute_s),
        "fetch over 100 GbE": f"{fmt_seconds(r.fetch_s)} ({r.speedup:.2g}x faster)" if r.fetch_pays
        else f"{fmt_seconds(r.fetch_s)} (slower)",
        "reuse pays above": fmt_gbps(r.breakeven_gbps),
        "KV per token": f"{get_model(model).kv_bytes_per_token(kv_dtype) / 1024:.3g} KiB",
    }


@explorable_factory
def fetch_or_recompute() -> Explorable:
    """Mooncake's condition: fetch a cached prefix when the link beats prefill at producing KV."""
    return Explorable(
        title="Fetch a cached prefix, or recompute it?",
        controls=(
            _model_control(),
            Dropdown("kv_dtype", "KV dtype", tuple((d, d) for d in DTYPES), "bf16"),
            Dropdown("gpu", "GPU", tuple((g.name.replace("NVIDIA ", ""), g.id) for g in all_gpus()), GPU),
        ),
        figure_fn=_fetch_spec,
        readout_fn=_fetch_readout,
        alt=("Time to get a cached prefix's KV back, against prefix length, on log scales: the solid line recomputes it "
             "with a prefill, the dashed lines fetch it over links from 25 Gb/s to PCIe Gen5. Recompute grows a little "
             "faster than linearly (attention), fetch exactly linearly, so a link that beats recompute for one prefix "
             "length beats it for longer ones too; a faster GPU makes recompute cheaper and needs a faster link."),
    )
