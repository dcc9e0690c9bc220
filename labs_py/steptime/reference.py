"""The step times the model is fitted on and checked against, with where each came from.

Two kinds of reference step times:

* **vLLM on H100 SXM and A100 SXM**, composed by NVIDIA's aiconfigurator from kernel
  latencies measured on those GPUs: pure prefill steps and pure decode steps of
  Llama-3.1-8B, Llama-3.1-70B and Qwen3-32B at TP 1, 2, 4 and 8
  (``labs_py/data/steptime_reference.json``, written by ``tools/aiconfigurator_reference.py``).
  They are reference *estimates* built from measured kernels, not end-to-end
  measurements of a serving engine.
* **DistServe's engine on A100 SXM**, from the step-latency fits DistServe published
  for OPT-13B and OPT-66B, evaluated at the listed shapes (``labs_py/data/distserve_reference.json``).

Each point is **fitted** or **held out**. For vLLM, Qwen3-32B and TP=8 are held out
entirely: the fit never sees that model or that degree, so their errors say how the
model extrapolates. For DistServe, OPT-66B is held out. The course's own measurements
(:mod:`labs_py.course`) are checks of a different kind, in :mod:`labs_py.steptime.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from labs_py.core import catalog
from labs_py.core.validate import one_of
from labs_py.defaults import OPT_66B, QWEN3_32B

__all__ = [
    "SPLITS",
    "HELD_OUT_MODELS",
    "HELD_OUT_TP",
    "DISTSERVE_HELD_OUT_MODELS",
    "Point",
    "points",
    "allreduce_tables",
    "provenance",
]

SPLITS = ("fitted", "held out")
#: vLLM points the fit never sees: a whole model and a whole TP degree.
HELD_OUT_MODELS = frozenset({QWEN3_32B})
HELD_OUT_TP = frozenset({8})
#: DistServe points the fit never sees.
DISTSERVE_HELD_OUT_MODELS = frozenset({OPT_66B})


@dataclass(frozen=True)
class Point:
    """One reference step: a prefill of ``tokens`` (batch 1), or a decode step of ``batch`` x ``tokens`` of KV.

    Taught in: no chapter calls it directly; it works behind interference.
    """

    engine: str
    model: str
    gpu: str
    tp: int
    phase: str  # "prefill" or "decode"
    batch: int
    tokens: int  # prompt tokens (prefill) or KV length per request (decode)
    seconds: float
    split: str
    parts: tuple[
        tuple[str, float], ...
    ] = ()  # seconds by group, where the source gives them

    @property
    def label(self) -> str:
        """``"Llama-3.1-8B H100-SXM TP1 decode 16 x 2,048 KV"``."""
        short = self.model.split("/")[-1].removesuffix("-Instruct")
        what = (
            f"prefill {self.tokens:,}"
            if self.phase == "prefill"
            else f"decode {self.batch} x {self.tokens:,} KV"
        )
        return f"{short} {self.gpu} TP{self.tp} {what}"


def _vllm_split(model: str, tp: int) -> str:
    return "held out" if model in HELD_OUT_MODELS or tp in HELD_OUT_TP else "fitted"


@cache
def _load() -> dict:
    return catalog.load("steptime_reference")


def provenance() -> dict:
    """Where the reference points came from: tools, versions, databases, dates, calls.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    return {
        "vllm": _load()["provenance"],
        "distserve": catalog.load("distserve_reference")["source"],
    }


@cache
def points(engine: str | None = None, split: str | None = None) -> tuple[Point, ...]:
    """The reference points (of one engine, ``"vllm"`` or ``"distserve"``, and one split, if given).

    Taught in: no chapter calls it directly; it works behind interference.
    """
    if split is not None:
        one_of("split", split, SPLITS, "split of the reference points")
    data = _load()
    out = []
    cols = data["columns"]
    for row in data["points"]:
        r = dict(zip(cols, row))
        # aiconfigurator's decode step is for KV of context + 1 tokens (osl=2)
        tokens = r["tokens"] + (1 if r["phase"] == "decode" else 0)
        parts = tuple(
            (g, r[f"{g}_ms"] / 1e3) for g in ("gemm", "attention", "allreduce", "other")
        )
        out.append(
            Point(
                "vllm",
                r["model"],
                r["gpu"],
                r["tp"],
                r["phase"],
                r["batch"],
                tokens,
                r["total_ms"] / 1e3,
                _vllm_split(r["model"], r["tp"]),
                parts,
            )
        )
    for p in catalog.load("distserve_reference")["points"]:
        s = "held out" if p["model"] in DISTSERVE_HELD_OUT_MODELS else "fitted"
        tokens = p["prompt_tokens"] if p["kind"] == "prefill" else p["context_tokens"]
        out.append(
            Point(
                "distserve",
                p["model"],
                p["gpu"],
                p["tp"],
                p["kind"],
                p.get("batch_size", 1),
                tokens,
                p["seconds"],
                s,
            )
        )
    return tuple(
        p
        for p in out
        if (engine is None or p.engine == engine)
        and (split is None or p.split == split)
    )


def allreduce_tables(gpu: str | None = None) -> list[dict]:
    """vLLM's custom all-reduce latencies (per GPU, TP degree and kernel: graphed or eager) against message size.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    return [t for t in _load()["allreduce"] if gpu is None or t["gpu"] == gpu]
