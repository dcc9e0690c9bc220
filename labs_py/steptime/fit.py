"""Fitting the engine profiles: ``python -m labs_py.steptime fit`` rewrites ``labs_py/data/calibration.json``.

Each part of the step model is fitted on its own data, and on nothing else:

1. **all-reduce**, per GPU and TP degree: ``latency + bytes / bandwidth`` through
   vLLM's custom all-reduce tables (measured on each GPU; aiconfigurator ships them),
   once for the graphed kernel (decode steps) and once for the eager one (prefill).
2. **device**, per engine and GPU: the efficiencies and per-layer floors of the GEMMs,
   attention and small operations, on the *fitted* reference points
   (:mod:`labs_py.steptime.reference`); the held-out points are never seen. For vLLM
   the references are kernel-only, so the host terms are zero at this stage; for
   DistServe they are whole measured steps, so its step overhead is fitted here too.
3. **host**, per machine: vLLM's fixed cost per step, on the Week 16 TP=1 ITL p50 rows
   of that GPU (the TP=2 rows are left to check it), and on lab 15-02's single-instance
   ITL p50 for the L4.
4. **client**, per machine: the fixed cost a client's TTFT adds to the prefill step,
   on the Week 16 standalone prefill TTFTs (H100) and lab 15-02's prefill leg (L4),
   never on loaded runs.

A GPU without reference points of its own borrows the device efficiencies of a
measured sibling (:data:`DERIVED`); its roofs and its link stay its own.

Every fit minimises relative error (residuals ``log(predicted / measured)``), so a
2 ms decode step counts as much as a 2 s prefill.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from labs_py.defaults import (
    A100_PCIE,
    A100_SXM,
    H100_PCIE,
    H100_SXM,
    H200,
    L4,
    QWEN25_05B,
)
from labs_py.gpus import get_gpu
from labs_py.steptime import course_runs, reference
from labs_py.steptime.model import (
    AllReduce,
    EngineProfile,
    StepCoefficients,
    step_coefficients,
)
from labs_py.steptime.transformer import chunk_attention_pairs

__all__ = [
    "DEVICE_PARAMETERS",
    "DERIVED",
    "fit_allreduce",
    "fit_device",
    "fit_host_overhead",
    "fit_client_overhead",
    "point_parts",
    "point_seconds",
    "fit_all",
    "write",
]

#: The device terms fitted per engine and GPU, with their starting values and bounds.
DEVICE_PARAMETERS: dict[str, tuple[float, float, float]] = {
    "compute_efficiency": (0.7, 0.05, 1.0),
    "bandwidth_efficiency": (0.8, 0.05, 1.0),
    "sharpness": (4.0, 1.0, 50.0),
    "gemm_layer_s": (5e-6, 0.0, 1e-3),
    "attention_layer_s": (5e-6, 0.0, 1e-3),
    "attention_efficiency": (0.4, 0.02, 1.0),
    "kv_bandwidth_efficiency": (0.6, 0.05, 1.0),
    "other_layer_s": (5e-6, 0.0, 1e-3),
    "other_bandwidth_efficiency": (0.5, 0.02, 1.0),
}
#: Extra terms for engines whose references are whole measured steps (DistServe's).
HOST_PARAMETERS: dict[str, tuple[float, float, float]] = {
    "step_overhead_s": (2e-3, 0.0, 0.05),
    "allreduce_latency_s": (3e-5, 0.0, 1e-3),
}
#: GPU -> the measured GPU whose device efficiencies it borrows (same generation of silicon).
DERIVED = {
    "vllm": {A100_PCIE: A100_SXM, H100_PCIE: H100_SXM, H200: H100_SXM, L4: A100_SXM},
}
#: GPU -> the GPU whose host and client overheads it borrows, where it has no measurement of its own.
HOST_FROM = {H100_PCIE: H100_SXM, H200: H100_SXM, A100_SXM: A100_PCIE}
CLIENT_FROM = {
    H100_PCIE: H100_SXM,
    H200: H100_SXM,
    A100_SXM: H100_SXM,
    A100_PCIE: H100_SXM,
}


def _least_squares(
    residuals: Callable, x0: Sequence[float], lo: Sequence[float], hi: Sequence[float]
):
    from scipy.optimize import least_squares

    return least_squares(residuals, x0, bounds=(lo, hi), x_scale="jac", max_nfev=4000)


# ------------------------------------------------------------------------------------------------ 1. all-reduce
#: The message sizes each kernel carries, in bytes: a decode step's (batch x hidden x 2, up to 256 x 8,192)
#: and a prefill's (up to a 8,192-token prompt of a 8,192-wide model).
ALLREDUCE_MESSAGES = {"vllm_graph": (0, 2**22), "vllm_eager": (2**18, 2**27)}


def fit_allreduce(gpu: str) -> tuple[AllReduce, ...]:
    """One :class:`AllReduce` per TP degree of ``gpu``'s tables: latency and bandwidth, graphed and eager.

    Messages are bf16 activations (2 bytes per element); each kernel is fitted over the
    sizes it carries (:data:`ALLREDUCE_MESSAGES`).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    by = {}
    for t in reference.allreduce_tables(gpu):
        lo, hi = ALLREDUCE_MESSAGES[t["kernel"]]
        sizes = [2.0 * m for m in t["message_elements"]]
        keep = [(b, ms / 1e3) for b, ms in zip(sizes, t["latency_ms"]) if lo <= b <= hi]

        def res(x, keep=keep):
            return [math.log((x[0] + b * x[1]) / s) for b, s in keep]

        fit = _least_squares(res, [1e-5, 1e-11], [0.0, 0.0], [1e-2, 1e-8])
        by[(t["tp"], t["kernel"])] = (float(fit.x[0]), float(fit.x[1]))
    out = []
    for tp in sorted({tp for tp, _ in by}):
        graph, eager = by.get((tp, "vllm_graph")), by.get((tp, "vllm_eager"))
        if graph is None or eager is None:
            continue
        out.append(
            AllReduce(
                tp,
                round(graph[0], 9),
                round(1.0 / graph[1], -6),
                round(eager[0], 9),
                round(1.0 / eager[1], -6),
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------------------------ 2. device
def point_parts(co: StepCoefficients, p: reference.Point) -> dict[str, float]:
    """The model's seconds for a reference point, part by part (``gemm``, ``attention``, ``small_ops``, ...).

    Taught in: no chapter calls it directly; it works behind interference.
    """
    if p.phase == "prefill":
        return co.parts(p.tokens, chunk_attention_pairs(p.tokens), 1, 0, 0)
    return co.parts(0, 0, 0, p.batch, p.batch * p.tokens)


def point_seconds(
    co: StepCoefficients, p: reference.Point, *, device_only: bool
) -> float:
    """The model's seconds for a reference point; ``device_only`` leaves out the host's share (kernel-only ones).

    Taught in: no chapter calls it directly; it works behind interference.
    """
    parts = point_parts(co, p)
    if device_only:
        parts.pop("host")
    return sum(parts.values())


#: The reference's groups (aiconfigurator's operations, summed) -> the model's parts.
PART_OF_GROUP = {"gemm": "gemm", "attention": "attention", "other": "small_ops"}


def _profile(
    engine: str, gpu: str, names: Sequence[str], x: Sequence[float], base: dict
) -> EngineProfile:
    values = dict(base, **{n: float(v) for n, v in zip(names, x)})
    lat = values.pop("allreduce_latency_s", None)
    if (
        lat is not None
    ):  # one fitted latency for every degree (DistServe's engine: no tables)
        bps = get_gpu(gpu).tp_link.gbps_per_direction * 1e9 / 8
        values["allreduce"] = tuple(AllReduce(t, lat, bps, lat, bps) for t in (2, 4, 8))
    return EngineProfile(engine=engine, gpu=gpu, **values)


@dataclass(frozen=True)
class DeviceFit:
    """The fitted profile of one engine on one GPU, with the points it saw and its relative errors on them.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """

    profile: EngineProfile
    points: tuple[str, ...]
    rms_error: float
    worst_error: float


def fit_device(
    engine: str, gpu: str, allreduce: tuple[AllReduce, ...] = (), split: str = "fitted"
) -> DeviceFit:
    """Fit the device terms of ``engine`` on ``gpu`` to its reference points of one ``split``.

    The calibration fits on ``"fitted"`` and never sees ``"held out"``; the reverse
    check (:func:`labs_py.steptime.validation.reverse_summary`) swaps them.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    pts = [p for p in reference.points(engine, split) if p.gpu == gpu]
    if not pts:
        raise ValueError(
            f"no {split!r} reference points for engine {engine!r} on {gpu}"
        )
    whole_steps = engine != "vllm"
    params = dict(DEVICE_PARAMETERS, **(HOST_PARAMETERS if whole_steps else {}))
    base = {} if whole_steps else {"allreduce": allreduce}
    if whole_steps:  # totals alone cannot tell the per-layer floors apart: keep one
        for name in ("gemm_layer_s", "attention_layer_s"):
            del params[name]
            base[name] = 0.0
    names = list(params)

    def predictions(x) -> list[dict[str, float]]:
        prof = _profile(engine, gpu, names, x, base)
        return [
            point_parts(step_coefficients(p.model, gpu, tp=p.tp, engine=prof), p)
            for p in pts
        ]

    def total(parts: dict[str, float]) -> float:
        return sum(v for k, v in parts.items() if whole_steps or k != "host")

    def res(x):
        # the total, and where the reference breaks it down, each part: so that every term is identified
        out = []
        for parts, p in zip(predictions(x), pts):
            out.append(math.log(total(parts) / p.seconds))
            for group, seconds in p.parts:
                if group in PART_OF_GROUP and seconds > 0:
                    out.append(
                        math.log(max(parts[PART_OF_GROUP[group]], 1e-9) / seconds)
                    )
        return out

    fit = _least_squares(
        res,
        [v[0] for v in params.values()],
        [v[1] for v in params.values()],
        [v[2] for v in params.values()],
    )
    x = [float(f"{v:.4g}") for v in fit.x]
    err = [total(parts) / p.seconds - 1 for parts, p in zip(predictions(x), pts)]
    return DeviceFit(
        profile=_profile(engine, gpu, names, x, base),
        points=tuple(p.label for p in pts),
        rms_error=math.sqrt(sum(e * e for e in err) / len(err)),
        worst_error=max(map(abs, err)),
    )


# ------------------------------------------------------------------------------------------------ 3. host
def fit_host_overhead(
    profile: EngineProfile,
    targets: Sequence[tuple[Callable[[EngineProfile], float], float]],
) -> float:
    """The step overhead (seconds) that best matches ``targets``: (prediction given a profile, measured seconds).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """

    def res(x):
        prof = replace(profile, step_overhead_s=float(x[0]))
        return [math.log(f(prof) / m) for f, m in targets]

    return float(f"{_least_squares(res, [1e-3], [0.0], [0.1]).x[0]:.4g}")


def week16_itl_targets(
    gpu: str,
) -> list[tuple[Callable[[EngineProfile], float], float]]:
    """The Week 16 TP=1 ITL p50 rows of ``gpu``, as (prediction, measured seconds).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    out = []
    for row in course_runs.week16_rows():
        if row.gpu == gpu and row.tp == 1:
            out.append(
                (
                    lambda prof, row=row: (
                        course_runs.predict_week16(row, engine=prof).itl_p50_ms / 1e3
                    ),
                    row.itl_p50_ms / 1e3,
                )
            )
    return out


def l4_itl_targets() -> list[tuple[Callable[[EngineProfile], float], float]]:
    """Lab 15-02's single-instance ITL p50 on the L4: one decode step beside the 2,031-token prompt's KV.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    c = course_runs.l4_capture()
    return [
        (
            lambda prof: course_runs.l4_decode_step_seconds(prof),
            c["single"]["itl_p50_ms"] / 1e3,
        )
    ]


# ------------------------------------------------------------------------------------------------ 4. client
def fit_client_overhead(
    profile: EngineProfile, model: str, rows: Sequence[tuple[int, float]]
) -> float:
    """The client overhead (seconds) that best matches lone-request TTFTs: ``rows`` of (prompt tokens, seconds).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    co = step_coefficients(model, profile.gpu, engine=profile)
    pre = [(co.prefill_seconds(n), s) for n, s in rows]

    def res(x):
        return [math.log((x[0] + p) / s) for p, s in pre]

    return float(f"{_least_squares(res, [0.05], [0.0], [2.0]).x[0]:.4g}")


# ------------------------------------------------------------------------------------------------ everything
def fit_all(progress: Callable[[str], None] = print) -> dict:
    """Fit every profile and return the ``calibration.json`` document (with provenance).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    from labs_py.defaults import LLAMA_8B

    engines: dict[str, dict] = {"vllm": {"gpus": {}}, "distserve": {"gpus": {}}}
    vllm = engines["vllm"]["gpus"]
    fits: dict[str, EngineProfile] = {}
    for gpu in (H100_SXM, A100_SXM):
        ars = fit_allreduce(gpu)
        progress(
            f"[fit] vllm {gpu}: all-reduce at tp {', '.join(str(a.tp) for a in ars)}"
        )
        d = fit_device("vllm", gpu, ars)
        progress(
            f"[fit] vllm {gpu}: device terms on {len(d.points)} points, rms {d.rms_error:.1%}, "
            f"worst {d.worst_error:.1%}"
        )
        fits[gpu] = d.profile
        vllm[gpu] = {
            "device": d,
            "source": "device: aiconfigurator's vLLM step times (kernel-only)",
        }
    for gpu, sibling in DERIVED["vllm"].items():
        g, s = get_gpu(gpu), get_gpu(sibling)
        scale = g.tp_link.gbps_per_direction / s.tp_link.gbps_per_direction
        ars = tuple(
            a.over_link(scale)
            for a in fits[sibling].allreduce
            if a.tp <= g.tp_link.max_tp
        )
        fits[gpu] = replace(fits[sibling], gpu=gpu, allreduce=ars, derived_from=sibling)
        vllm[gpu] = {
            "source": f"device: borrowed from {sibling} (no reference points of its own); all-reduce "
            f"bandwidth scaled by its link, {g.tp_link.name}"
        }
    # host: per machine, on its own TP=1 serving rows
    host = {}
    for gpu in (H100_SXM, A100_PCIE):
        host[gpu] = fit_host_overhead(fits[gpu], week16_itl_targets(gpu))
        progress(
            f"[fit] vllm {gpu}: host overhead {host[gpu] * 1e3:.2f} ms per step (Week 16 TP=1 ITL p50)"
        )
    host[L4] = fit_host_overhead(fits[L4], l4_itl_targets())
    progress(
        f"[fit] vllm {L4}: host overhead {host[L4] * 1e3:.2f} ms per step (lab 15-02 single ITL p50)"
    )
    for gpu, src in HOST_FROM.items():
        host[gpu] = host[src]
    # client: per machine, on lone-request TTFTs
    client = {}
    client[H100_SXM] = fit_client_overhead(
        replace(fits[H100_SXM], step_overhead_s=host[H100_SXM]),
        LLAMA_8B,
        [(n, ms / 1e3) for n, ms in course_runs.standalone_rows()],
    )
    c = course_runs.l4_capture()
    client[L4] = fit_client_overhead(
        replace(fits[L4], step_overhead_s=host[L4]),
        QWEN25_05B,
        [(c["prompt_tokens"], c["prefill_leg_ms"] / 1e3)],
    )
    for gpu, src in CLIENT_FROM.items():
        client[gpu] = client[src]
    for gpu in client:
        progress(
            f"[fit] vllm {gpu}: client overhead {client[gpu] * 1e3:.1f} ms per request"
        )
    for gpu, entry in vllm.items():
        prof = replace(
            fits[gpu], step_overhead_s=host[gpu], client_overhead_s=client[gpu]
        )
        entry["profile"] = prof
        entry["host_from"] = HOST_FROM.get(gpu, gpu)
        entry["client_from"] = CLIENT_FROM.get(gpu, gpu)
    # DistServe's engine: whole measured steps, one GPU
    d = fit_device("distserve", A100_SXM)
    progress(
        f"[fit] distserve {A100_SXM}: {len(d.points)} points, rms {d.rms_error:.1%}, worst {d.worst_error:.1%}"
    )
    engines["distserve"]["gpus"][A100_SXM] = {
        "device": d,
        "profile": d.profile,
        "source": "whole steps: DistServe's published step-latency fits",
    }
    return _document(engines)


def _profile_json(prof: EngineProfile) -> dict:
    skip = {"engine", "gpu", "allreduce", "derived_from", "source"}
    return {
        "coefficients": {
            f.name: getattr(prof, f.name) for f in fields(prof) if f.name not in skip
        },
        "allreduce": {
            str(a.tp): {k: v for k, v in asdict(a).items() if k != "tp"}
            for a in prof.allreduce
        },
    }


def _document(engines: dict) -> dict:
    import scipy

    out: dict = {}
    for engine, e in engines.items():
        gpus = {}
        for gpu, entry in e["gpus"].items():
            j = _profile_json(entry["profile"])
            j["derived_from"] = entry["profile"].derived_from
            j["source"] = entry["source"]
            if "host_from" in entry:
                j["host_from"], j["client_from"] = (
                    entry["host_from"],
                    entry["client_from"],
                )
            if "device" in entry:
                d: DeviceFit = entry["device"]
                j["fit"] = {
                    "points": list(d.points),
                    "rms_error": round(d.rms_error, 4),
                    "worst_error": round(d.worst_error, 4),
                }
            gpus[gpu] = j
        out[engine] = {"gpus": gpus}
    return {
        "about": (
            "Engine profiles of labs_py.steptime, fitted by `python -m labs_py.steptime fit` "
            "(labs_py/steptime/fit.py). Each profile lists the points its device terms were fitted on; "
            "`python -m labs_py.steptime validate` checks it on the points it was not fitted on."
        ),
        "schema_version": 2,
        "provenance": {
            "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "scipy": scipy.__version__,
            "references": reference.provenance(),
            "held_out": {
                "vllm": {
                    "models": sorted(reference.HELD_OUT_MODELS),
                    "tp": sorted(reference.HELD_OUT_TP),
                },
                "distserve": {"models": sorted(reference.DISTSERVE_HELD_OUT_MODELS)},
            },
            "host": "vLLM step overhead per machine: Week 16 TP=1 ITL p50 rows (H100 SXM, A100 PCIe); lab 15-02 "
            "single-instance ITL p50 (L4)",
            "client": "client overhead per machine: Week 16 standalone prefill TTFTs (H100 SXM); lab 15-02 prefill "
            "leg (L4)",
        },
        "engines": out,
    }


def write(doc: dict, path: Path | None = None) -> Path:
    """Write the calibration document (default: ``labs_py/data/calibration.json``).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    from importlib import resources

    target = path or Path(
        str(resources.files("labs_py.data").joinpath("calibration.json"))
    )
    target.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return target
