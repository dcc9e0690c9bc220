"""Calibrating the step-time model: published step latencies against :mod:`labs_py.steptime`.

A roofline gives the *shape* of step time (weights read once per step, FLOPs per
token, attention per pair); real engines fall short of both roofs and pay host
costs on every step. An :class:`~labs_py.steptime.EngineProfile` captures that
shortfall in seven numbers, and this module fits them to reference latencies
recorded, with their sources, in ``labs_py/data/calibration.json``:

* DistServe's published fits of its own engine and of vLLM on an A100-80GB
  (OPT-13B at TP 1, 2, 4 and OPT-66B at TP 2, 4, 8): 42 points each;
* the seeds' 2x L4 capture (Qwen2.5-0.5B), kept as *validation*: it is never fitted.

The fit minimises relative error (a 10% miss on a 20 ms step matters as much as
on a 300 ms prefill), so the printed errors are percentages.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np

from labs_py.core import catalog
from labs_py.core.validate import one_of
from labs_py.models import ModelSpec, get_model
from labs_py.steptime import EngineProfile, engine_profile, step_coefficients


@cache
def reference_model(model_id: str) -> ModelSpec:
    """A model used only by a calibration reference (OPT), or any catalog model.

    OPT's MLP has two matrices (fc1, fc2) of ``hidden x ffn_dim``, where the catalog
    assumes SwiGLU's three. We keep the parameter count right by giving the spec an
    ``intermediate_size`` of ``2/3 * ffn_dim`` (rounded: a 0.001% error).

    Taught in: no chapter calls it directly; it works behind interference, two_gpus.
    """
    refs = catalog.load("calibration")["reference_models"]
    if model_id not in refs:
        return get_model(model_id)
    r = refs[model_id]
    return ModelSpec(
        id=model_id,
        short_name=model_id.split("/")[-1],
        attention="gqa",
        num_hidden_layers=r["num_hidden_layers"],
        num_attention_heads=r["num_attention_heads"],
        num_key_value_heads=r["num_attention_heads"],
        hidden_size=r["hidden_size"],
        intermediate_size=round(2 * r["ffn_dim"] / 3),
        vocab_size=r["vocab_size"],
        tie_word_embeddings=True,
        source={"url": r["source"]},
    )


def reference_points(
    which: str = "references", reference_set: str | None = None
) -> list[dict]:
    """The reference latencies (``which="references"``, fitted) or ``"validation"`` points (never fitted).

    Taught in: two_gpus.
    """
    one_of("which", which, ("references", "validation"), "kind of calibration point")
    pts = catalog.load("calibration")[which]
    return [p for p in pts if reference_set is None or p["set"] == reference_set]


def model_seconds(point: dict, engine: str | EngineProfile) -> float:
    """What the step-time model predicts for one reference point, in seconds.

    Taught in: no chapter calls it directly; it works behind interference, two_gpus.
    """
    co = step_coefficients(
        reference_model(point["model"]), point["gpu"], tp=point["tp"], engine=engine
    )
    if point["kind"] == "prefill":
        return co.prefill_seconds(point["prompt_tokens"])
    return co.decode_seconds(point["batch_size"], point["context_tokens"])


@dataclass(frozen=True)
class CalibrationRow:
    """One reference point: what was published, what the model says, and the relative error.

    Taught in: no chapter calls it directly; it works behind interference, two_gpus.
    """

    label: str
    reference_s: float
    model_s: float

    @property
    def error(self) -> float:
        """Relative error (model / reference - 1): +0.10 means the model is 10% slow."""
        return self.model_s / self.reference_s - 1.0


def _label(p: dict) -> str:
    shape = (
        f"{p['prompt_tokens']} tokens"
        if p["kind"] == "prefill"
        else f"batch {p['batch_size']} x {p['context_tokens']} ctx"
    )
    return f"{p['set']:>15} {p['model'].split('/')[-1]:>15} {p['gpu']:>9} TP{p['tp']} {p['kind']:>7} {shape}"


def calibration_table(
    engine: str | EngineProfile, reference_set: str, which: str = "references"
) -> list[CalibrationRow]:
    """Model vs reference for every point of one set, under one engine profile.

    Taught in: interference, two_gpus.
    """
    return [
        CalibrationRow(_label(p), p["seconds"], model_seconds(p, engine))
        for p in reference_points(which, reference_set)
    ]


def format_table(rows: list[CalibrationRow]) -> str:
    """A printable table of the rows, with the RMS and worst error at the bottom.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    lines = [f"{'point':<70} {'ref ms':>8} {'model ms':>9} {'error':>7}"]
    for r in rows:
        lines.append(
            f"{r.label:<70} {r.reference_s * 1e3:8.2f} {r.model_s * 1e3:9.2f} {r.error * 100:+6.1f}%"
        )
    e = np.array([r.error for r in rows])
    lines.append(
        f"{'RMS error':<70} {'':8} {'':9} {np.sqrt((e**2).mean()) * 100:6.1f}%"
    )
    lines.append(f"{'worst error':<70} {'':8} {'':9} {np.abs(e).max() * 100:6.1f}%")
    return "\n".join(lines)


def fit_profile(
    reference_set: str, name: str | None = None, tp_link_gbps: float = 2400.0
) -> EngineProfile:
    """Least-squares fit of an engine profile's seven numbers to one reference set (relative error).

    ``tp_link_gbps`` is not fitted: it is the GPUs' link (A100 NVLink 3: 300 GB/s per
    direction = 2400 Gb/s). Needs scipy.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    from scipy.optimize import least_squares

    pts = reference_points("references", reference_set)
    if not pts:
        raise ValueError(f"no reference points in set {reference_set!r}")

    def profile(x: np.ndarray) -> EngineProfile:
        return EngineProfile(
            name=name or reference_set,
            compute_efficiency=float(x[0]),
            attention_efficiency=float(x[1]),
            bandwidth_efficiency=float(x[2]),
            step_overhead_s=float(x[3]),
            sequence_overhead_s=float(x[4]),
            allreduce_latency_s=float(x[5]),
            tp_link_gbps=tp_link_gbps,
            roofline_sharpness=float(x[6]),
            source=f"least-squares fit to the {reference_set} points of labs_py/data/calibration.json",
        )

    def residuals(x: np.ndarray) -> list[float]:
        prof = profile(x)
        return [model_seconds(p, prof) / p["seconds"] - 1.0 for p in pts]

    fit = least_squares(
        residuals,
        [0.7, 0.7, 0.8, 0.005, 1e-5, 1e-5, 4.0],
        bounds=([0.05, 0.05, 0.05, 0, 0, 0, 1.0], [1, 1, 1, 0.1, 1e-3, 1e-3, 50.0]),
    )
    return profile(np.round(fit.x, 6))


def composite_profile(
    name: str,
    efficiencies_from: str | EngineProfile,
    host_costs_from: str | EngineProfile,
    tp_link_gbps: float = 3600.0,
) -> EngineProfile:
    """Roofs from one profile (say, measured H100 kernels); host costs and roofline sharpness from a fitted engine.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    eff, host = engine_profile(efficiencies_from), engine_profile(host_costs_from)
    return replace(
        eff,
        name=name,
        step_overhead_s=host.step_overhead_s,
        sequence_overhead_s=host.sequence_overhead_s,
        allreduce_latency_s=host.allreduce_latency_s,
        tp_link_gbps=tp_link_gbps,
        roofline_sharpness=host.roofline_sharpness,
        source=f"roofs: {eff.source}; host costs: {host.name} ({host.source})",
    )
