"""What the chapter "The disaggregation trade" computes beyond its panels: the course's own figures
checked against the formula, the transfer against prompt length on each fabric, and a pooled
prefill fleet in the simulator.

Each function returns numbers; the notebook prints or draws them.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from labs_py import course
from labs_py import economics as econ
from labs_py.defaults import A100_SXM, LLAMA_8B, OPT_13B, OPT_66B, QWEN25_05B
from labs_py.links import get_link
from labs_py.models import get_model
from labs_py.sim.fleets import Disaggregated
from labs_py.sim.goodput import Scenario, run
from labs_py.steptime import placement, step_coefficients

__all__ = [
    "lab15_02_kv_check",
    "week16_kv_claims",
    "PROFILE_LINKS",
    "transfer_profile",
    "distserve_transfer_vs_step",
    "POOL_RATES",
    "prefill_pooling",
]

GB = 1e9


def lab15_02_kv_check() -> dict:
    """Lab 15-02's stated KV figures for Qwen2.5-0.5B beside the formula (layers x KV heads x head dim x 2 x bytes).

    Returns the formula's bytes per token, the lab's, the payload of its 2,031-token prompt (as tokens
    and as the 127 blocks of 16 it reported), and the 8B-over-0.5B freight factor both ways.
    """
    t = course.measurements("lab15_02_capture")
    small, big = get_model(QWEN25_05B), get_model(LLAMA_8B)
    per_token = small.kv_bytes_per_token()
    blocks = math.ceil(t["prompt_tokens"] / t["block_size_tokens"])
    return {
        "shape": (small.num_hidden_layers, small.num_key_value_heads, small.head_dim),
        "formula_bytes_per_token": per_token,
        "lab_bytes_per_token": t["stated_kv_per_token_bytes"],
        "lab_over_formula": t["stated_kv_per_token_bytes"] / per_token,
        "layers_the_lab_implies": t["stated_kv_per_token_bytes"]
        / (per_token / small.num_hidden_layers),
        "prompt_tokens": t["prompt_tokens"],
        "blocks": blocks,
        "blocks_reported": t["blocks_received"],
        "formula_payload_bytes": econ.kv_payload_bytes(t["prompt_tokens"], per_token),
        "formula_block_payload_bytes": blocks * t["block_size_tokens"] * per_token,
        "lab_payload_bytes": t["stated_payload_bytes"],
        "freight_8b_formula": big.kv_bytes_per_token() / per_token,
        "freight_8b_lab": t["stated_freight_factor_8b"],
        "payload_8b_bytes": econ.kv_payload_bytes(
            t["prompt_tokens"], big.kv_bytes_per_token()
        ),
    }


def week16_kv_claims() -> list[dict]:
    """The Week 16 lab's KV-size and transfer figures for Llama-3.1-8B, each beside the book's and the reason.

    Rows: ``claim``, ``lab``, ``book`` (numbers in the row's ``unit``) and ``why``.
    """
    w = course.measurements("week16_kv_claims")
    m = get_model(LLAMA_8B)
    per_token = m.kv_bytes_per_token()
    heads_all = m.num_hidden_layers * m.num_attention_heads * m.head_dim * 2 * 2
    nvlink = get_link("nvlink4").gbps
    lab_nvlink_gbps = w["nvlink_effective_gbytes_per_s"] * 8
    k1 = econ.kv_payload_bytes(1024, per_token)
    k2 = econ.kv_payload_bytes(2048, per_token)
    return [
        {
            "claim": "KV bytes per token (its code)",
            "unit": "B",
            "lab": w["kv_bytes_per_token_code"],
            "book": per_token,
            "why": f"the code counts all {m.num_attention_heads} query heads; Llama-3.1-8B caches "
            f"{m.num_key_value_heads} KV heads (GQA): {heads_all:,} B would be right without GQA",
        },
        {
            "claim": "KV bytes per token (its note)",
            "unit": "B",
            "lab": w["kv_bytes_per_token_note"],
            "book": per_token,
            "why": f"the note's own product, {m.num_hidden_layers} x 2 x {m.num_key_value_heads} x "
            f"{m.head_dim} x 2 B, is {per_token:,} B: the figure is half of it",
        },
        {
            "claim": "KV at 2,048 tokens",
            "unit": "MB",
            "lab": w["kv_bytes_at_2048_note"] / 1e6,
            "book": k2 / 1e6,
            "why": "2,048 times the note's per-token figure, so half the true size too",
        },
        {
            "claim": "NVLink rate",
            "unit": "Gb/s",
            "lab": lab_nvlink_gbps,
            "book": nvlink,
            "why": "the catalog's NVLink 4 is 900 GB/s both ways, 450 GB/s one way; KV moves one way",
        },
        {
            "claim": "1,024 tokens over NVLink",
            "unit": "ms",
            "lab": float(np.mean(w["nvlink_ms_per_1k_tokens"])),
            "book": econ.transfer_seconds(k1, nvlink) * 1e3,
            "why": f"the bytes over the link's rate take {econ.transfer_seconds(k1, nvlink) * 1e3:.2g} ms; the lab's "
            f"{w['nvlink_ms_per_1k_tokens'][0]}-{w['nvlink_ms_per_1k_tokens'][1]} ms is "
            f"{w['nvlink_ms_per_1k_tokens'][0] / (econ.transfer_seconds(k1, nvlink) * 1e3):.0f} to "
            f"{w['nvlink_ms_per_1k_tokens'][1] / (econ.transfer_seconds(k1, nvlink) * 1e3):.0f} times that: "
            "more than the wire",
        },
        {
            "claim": "2,048 tokens over 100 Gb/s",
            "unit": "ms",
            "lab": float(w["ms_at_2048_over_100gbps"]),
            "book": econ.transfer_seconds(k2, get_link("100gbe").gbps) * 1e3,
            "why": "right for the halved size; the true payload takes twice as long",
        },
    ]


#: The fabrics of the transfer profile: NVLink 4, PCIe Gen5 x16, InfiniBand NDR, 100 GbE and 10 GbE.
PROFILE_LINKS = ("nvlink4", "pcie5-x16", "ib-ndr", "100gbe", "10gbe")


def transfer_profile(
    model: str = LLAMA_8B, lengths=(128, 512, 1024, 2048, 4096, 8192, 16384, 32768)
) -> dict:
    """The KV transfer time of a ``model`` prompt against its length on each of :data:`PROFILE_LINKS`, ms."""
    per_token = get_model(model).kv_bytes_per_token()
    return {
        "tokens": list(lengths),
        "ms": {
            get_link(i).short: [
                econ.transfer_seconds(
                    econ.kv_payload_bytes(n, per_token), get_link(i).gbps
                )
                * 1e3
                for n in lengths
            ]
            for i in PROFILE_LINKS
        },
    }


def distserve_transfer_vs_step(prompts=(512, 2048), batch: int = 16) -> list[dict]:
    """The DistServe notes' claim, computed: a prompt's KV over NVLink (600 GB/s) or PCIe 5 (64 GB/s)
    against one decode step (``batch`` requests at that context) of the same model on A100s.

    DistServe's own models are OPT-13B and OPT-66B on A100s; both use full multi-head attention, so
    their KV per token is large. The decode step is the calibrated step model's, at the smallest
    tensor-parallel degree at which the model fits.
    """
    n = course.measurements("distserve_notes_transfer")
    rates = {
        "NVLink, 600 GB/s": n["nvlink_gbytes_per_s"] * 8,
        "PCIe 5, 64 GB/s": n["pcie5_gbytes_per_s"] * 8,
    }
    rows = []
    for model in (OPT_13B, OPT_66B):
        tp = placement.fitting_tp(model, A100_SXM)[0]
        co = step_coefficients(model, A100_SXM, tp=tp)
        per_token = get_model(model).kv_bytes_per_token()
        for p in prompts:
            payload = econ.kv_payload_bytes(p, per_token)
            step = co.decode_seconds(batch, p)
            row = {
                "model": get_model(model).short_name,
                "tp": tp,
                "prompt_tokens": p,
                "payload_mb": payload / 1e6,
                "decode_step_ms": step * 1e3,
            }
            for name, gbps in rates.items():
                row[name] = econ.transfer_seconds(payload, gbps) * 1e3
            rows.append(row)
    return rows


#: Total request rates of the pooling comparison, per second (8B, 2,048 in / 128 out, H100s).
POOL_RATES = (8.0, 16.0, 24.0, 30.0, 34.0, 38.0)


@lru_cache(maxsize=1)
def prefill_pooling(n_requests: int = 600) -> dict:
    """Two prefill engines pooled (any P serves any D) against the same two split into private pairs.

    Pooled: one 2P2D fleet, every prompt goes to whichever prefill engine frees first. Private: two
    1P1D fleets, each taking half the traffic (a prompt waits for its own pair's prefill engine even
    when the other one is idle). The simulator runs both at each total rate of :data:`POOL_RATES`.
    """
    scen = Scenario(
        model=LLAMA_8B, prompt_tokens=2048, output_tokens=128, n_requests=n_requests
    )
    pooled, private = Disaggregated(2, 2, 200.0), Disaggregated(1, 1, 200.0)
    out = {
        "rates": list(POOL_RATES),
        "pooled_p90_ms": [],
        "private_p90_ms": [],
        "pooled_p50_ms": [],
        "private_p50_ms": [],
    }
    for rate in POOL_RATES:
        a, b = run(pooled, scen, rate), run(private, scen, rate / 2)
        out["pooled_p90_ms"].append(a.percentile_ms("ttft", 90))
        out["private_p90_ms"].append(b.percentile_ms("ttft", 90))
        out["pooled_p50_ms"].append(a.percentile_ms("ttft", 50))
        out["private_p50_ms"].append(b.percentile_ms("ttft", 50))
    return out
