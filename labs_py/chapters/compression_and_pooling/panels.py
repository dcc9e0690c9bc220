"""Wiring for the chapter "KV compression and pooled KV"."""

from __future__ import annotations

import numpy as np

from labs_py import economics as econ
from labs_py import pooling
from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.compression_and_pooling import figures as viz
from labs_py.chapters.controls import model_control, prompt_slider
from labs_py.core.fmt import fmt_gbps, fmt_seconds
from labs_py.defaults import DEFAULT_GPU, H200
from labs_py.gpus import all_gpus
from labs_py.links import get_link
from labs_py.models import all_models, get_model
from labs_py.sim import prefix as sim_prefix
from labs_py.steptime import placement, step_coefficients

GPU = DEFAULT_GPU
DTYPES = ("bf16", "fp8")
BOUNDARY_LINKS = ("10gbe", "100gbe", "ib-ndr", "nvlink4")
FETCH_LINKS = ("25gbe", "100gbe", "ib-ndr", "pcie5-x16")
PREFIXES = np.unique(np.geomspace(64, 32768, 19).round().astype(int))


def _short(link_id: str) -> str:
    return get_link(link_id).short


#: Where a model too big for eight H100s in any dtype is placed instead (DeepSeek-V3 is served on 8 x H200, FP8).
FALLBACK_GPUS = (H200,)


def placements() -> dict[str, placement.Placement]:
    """Each catalog model's prefill placement: the fewest H100 SXMs that hold it, else FP8, else H200s."""
    return {
        m.id: placement.place(m, GPU, fallback_gpus=FALLBACK_GPUS) for m in all_models()
    }


def model_labels() -> list[str]:
    """Short names, with the placement when it is not one H100 in bf16: ``"Llama-3.1-70B (TP=2)"``."""
    out, where = [], placements()
    for m in all_models():
        p = where[m.id]
        out.append(
            m.short_name
            if (p.gpu, p.tp, p.weight_dtype) == (GPU, 1, "bf16")
            else f"{m.short_name} ({p.label(GPU)})"
        )
    return out


def breakeven_by_model(
    prompt_tokens: int, max_ttft_penalty: float
) -> dict[str, list[float]]:
    """Per KV dtype, the split's break-even link (Gb/s) for each catalog model, prefilled where it fits."""
    out: dict[str, list[float]] = {}
    where = placements()
    for dtype in DTYPES:
        out[dtype] = [
            econ.breakeven_link_gbps(
                econ.kv_payload_bytes(prompt_tokens, m.kv_bytes_per_token(dtype)),
                step_coefficients(
                    m,
                    where[m.id].gpu,
                    tp=where[m.id].tp,
                    weight_dtype=where[m.id].weight_dtype,
                ).prefill_seconds(prompt_tokens),
                max_ttft_penalty,
            )
            for m in all_models()
        ]
    return out


def _boundary_spec(prompt_tokens, max_ttft_penalty):
    return viz.breakeven_figure(
        model_labels(),
        breakeven_by_model(prompt_tokens, max_ttft_penalty),
        {_short(i): get_link(i).gbps for i in BOUNDARY_LINKS},
    )


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
        title=f"Compression moves the boundary: the slowest link at which the split pays (prefill on the fewest "
        f"{GPU}s that hold each model)",
        controls=(
            prompt_slider((512, 2048, 8192, 32768), 2048),
            Slider(
                "max_ttft_penalty",
                "TTFT budget",
                (0.05, 0.10, 0.25),
                0.10,
                fmt="{:.0%} of prefill",
            ),
        ),
        figure_fn=_boundary_spec,
        readout_fn=_boundary_readout,
        alt=(
            "Bars give, for each catalog model and for bf16 and FP8 KV caches, the slowest link at which the KV "
            "transfer stays within the TTFT budget, on a log scale, with dotted lines at common links. FP8 halves "
            "every bar. Models with few KV heads for their size, and DeepSeek-V3's latent cache, need far slower "
            "links than their parameter counts suggest."
        ),
    )


def fetch_curves(
    model: str, kv_dtype: str, gpu: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Recompute time per prefix length, and fetch time over each pooled-KV link."""
    priced = {
        i: [
            pooling.fetch_or_recompute(
                model, int(n), get_link(i).gbps, gpu, kv_dtype=kv_dtype
            )
            for n in PREFIXES
        ]
        for i in FETCH_LINKS
    }
    recompute = np.array([p.recompute_s for p in priced[FETCH_LINKS[0]]])
    return recompute, {
        f"{_short(i)} ({get_link(i).gbps:g} Gb/s)": np.array([p.fetch_s for p in v])
        for i, v in priced.items()
    }


def _fetch_spec(model, kv_dtype, gpu):
    recompute, fetch = fetch_curves(model, kv_dtype, gpu)
    return viz.fetch_vs_recompute_figure(PREFIXES, recompute, fetch)


def _fetch_readout(model, kv_dtype, gpu):
    r = pooling.fetch_or_recompute(model, 4096, 100.0, gpu, kv_dtype=kv_dtype)
    return {
        "4,096-token prefix: recompute": fmt_seconds(r.recompute_s),
        "fetch over 100 GbE": f"{fmt_seconds(r.fetch_s)} ({r.speedup:.2g}x faster)"
        if r.fetch_pays
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
            model_control(gpus=tuple(g.id for g in all_gpus())),
            Dropdown("kv_dtype", "KV dtype", tuple((d, d) for d in DTYPES), "bf16"),
            Dropdown(
                "gpu",
                "GPU",
                tuple((g.name.replace("NVIDIA ", ""), g.id) for g in all_gpus()),
                GPU,
            ),
        ),
        figure_fn=_fetch_spec,
        readout_fn=_fetch_readout,
        alt=(
            "Time to get a cached prefix's KV back, against prefix length, on log scales: the solid line recomputes it "
            "with a prefill, the dashed lines fetch it over links from 25 Gb/s to PCIe Gen5. Recompute grows a little "
            "faster than linearly (attention), fetch exactly linearly, so a link that beats recompute for one prefix "
            "length beats it for longer ones too; a faster GPU makes recompute cheaper and needs a faster link."
        ),
    )


# --------------------------------------------------------------------------- Week 16 bonus, simulated

WARM_LINKS = ("25gbe", "100gbe", "pcie4-x16", "pcie5-x16")


def _warm_arms(cache_link_gbps: float, prefix_tokens: int) -> dict[str, np.ndarray]:
    cold = sim_prefix.warm_prefix_run("none", cache_link_gbps, prefix_tokens)
    warm = sim_prefix.warm_prefix_run("local", cache_link_gbps, prefix_tokens)
    hits = warm.raw.cached_tokens > 0
    return {
        "no prefix cache": cold.ttft_s * 1e3,
        "LMCache: requests that missed": warm.ttft_s[~hits] * 1e3,
        "LMCache: requests that hit": warm.ttft_s[hits] * 1e3,
    }


def _warm_readout(cache_link_gbps, prefix_tokens):
    cold = sim_prefix.warm_prefix_run("none", cache_link_gbps, prefix_tokens)
    warm = sim_prefix.warm_prefix_run("local", cache_link_gbps, prefix_tokens)
    hits = warm.raw.cached_tokens > 0
    return {
        "hit rate": f"{hits.mean():.0%}",
        "TTFT p50, no cache -> LMCache": f"{fmt_seconds(np.percentile(cold.ttft_s, 50))} -> "
        f"{fmt_seconds(np.percentile(warm.ttft_s, 50))}",
        "TTFT p99, no cache -> LMCache": f"{fmt_seconds(np.percentile(cold.ttft_s, 99))} -> "
        f"{fmt_seconds(np.percentile(warm.ttft_s, 99))}",
        "fetch per hit": fmt_seconds(float(np.median(warm.raw.fetch_s[hits]))),
    }


@explorable_factory
def warm_prefix() -> Explorable:
    """LMCache beside a P/D split: warm prefixes skip most of their prefill."""
    return Explorable(
        title="LMCache + P/D (1P1D, Llama-3.1-8B, 5 req/s, 90% of prompts open with one of 16 documents)",
        controls=(
            Slider(
                "cache_link_gbps",
                "Cache link",
                tuple(get_link(i).gbps for i in WARM_LINKS),
                get_link("pcie5-x16").gbps,
                value_labels=tuple(
                    f"{_short(i)} ({get_link(i).gbps:g} Gb/s)" for i in WARM_LINKS
                ),
            ),
            Slider(
                "prefix_tokens", "Document", (1024, 3072, 8192), 3072, fmt="{:,} tokens"
            ),
        ),
        figure_fn=lambda cache_link_gbps, prefix_tokens: viz.warm_ttft_figure(
            _warm_arms(cache_link_gbps, prefix_tokens)
        ),
        readout_fn=_warm_readout,
        alt=(
            "Cumulative distributions of time to first token. Without a prefix cache, every request prefills its "
            "whole prompt. With LMCache, requests whose document was seen before fetch its KV and prefill only the "
            "question, so their curve sits far to the left; requests that miss look like the uncached ones. A slower "
            "cache link moves the warm curve right, and over a slow enough link the fetch costs more than it saves."
        ),
    )


def _pool_spec(prefill_engines, pool_link_gbps):
    s = sim_prefix.pool_vs_private(prefill_engines, float(pool_link_gbps))
    return viz.pool_figure(s.n_prefixes, s.hit_rate, s.ttft_p50_s)


def _pool_readout(prefill_engines, pool_link_gbps):
    s = sim_prefix.pool_vs_private(prefill_engines, float(pool_link_gbps))
    private, pool = list(sim_prefix.DESIGNS)[1:]
    i = len(s.n_prefixes) - 1
    return {
        f"hit rate at {s.n_prefixes[i]} "
        "prefixes": f"private {s.hit_rate[private][i]:.0%}, pool "
        f"{s.hit_rate[pool][i]:.0%}",
        f"TTFT p50 at {s.n_prefixes[i]} prefixes": f"private {fmt_seconds(s.ttft_p50_s[private][i])}, "
        f"pool {fmt_seconds(s.ttft_p50_s[pool][i])}",
        f"TTFT p50 at {s.n_prefixes[0]} prefixes": f"private {fmt_seconds(s.ttft_p50_s[private][0])}, "
        f"pool {fmt_seconds(s.ttft_p50_s[pool][0])}",
    }


@explorable_factory
def pool_vs_private() -> Explorable:
    """A Mooncake-style shared pool against private per-engine caches."""
    return Explorable(
        title="Shared KV pool vs private caches (xP2D, 12 req/s, 2,048-token prefixes, private caches on PCIe Gen5)",
        controls=(
            Slider("prefill_engines", "Prefill engines", (2, 4), 4, fmt="{} P"),
            Slider(
                "pool_link_gbps", "Pool network", (100, 200, 400), 200, fmt="{} Gb/s"
            ),
        ),
        figure_fn=_pool_spec,
        readout_fn=_pool_readout,
        alt=(
            "Left: the share of requests served from a cache against the number of distinct prefixes, for no cache, "
            "private caches beside each prefill engine, and one shared pool. With few prefixes every design hits "
            "almost always; with many, private caches miss whenever a reuse lands on another engine, and the pool "
            "keeps hitting. Right: median TTFT; the pool pays a network fetch instead of a PCIe one, so it wins only "
            "where its extra hits outweigh its slower fetches."
        ),
    )
