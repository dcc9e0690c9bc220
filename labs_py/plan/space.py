"""Every layout a planner may choose within N GPUs: colocated fleets and prefill/decode splits.

A *layout* (a configuration) is a distinct fleet shape with its settings:

* **colocated**: ``replicas`` engines of ``tp`` GPUs each, each with a prefill chunk size
  (:data:`CHUNKS`; ``None`` for no chunking) and a batch limit (:data:`MAX_BATCHES`);
* **disaggregated**: ``prefill`` engines of ``prefill_tp`` GPUs and ``decode`` engines of
  ``decode_tp`` GPUs, a link between them, how many prompts a prefill step may hold
  (:data:`PREFILL_PROMPTS_PER_STEP`), the decode engines' batch limit, and where the first
  token comes from (:data:`labs_py.sim.eventloop.PROXIES`).

Only tensor-parallel degrees at which the model fits are used
(:func:`labs_py.steptime.placement.fitting_tp`).

Taught in: plan_a_deployment.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from labs_py.plan.question import Question
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.steptime.placement import MIN_KV_TOKENS, TP_CANDIDATES

__all__ = [
    "CHUNKS",
    "MAX_BATCHES",
    "PREFILL_PROMPTS_PER_STEP",
    "PROXY_MODES",
    "Layout",
    "enumerate_layouts",
]

#: Prefill chunk sizes of colocated engines, tokens per step (``None``: a prompt runs alone in its step).
CHUNKS: tuple[int | None, ...] = (256, 512, 1024, 2048, 4096, None)
#: Batch limits (requests decoding at once per engine): vLLM's ``--max-num-seqs``.
MAX_BATCHES: tuple[int, ...] = (8, 16, 32, 64, 128, 256, 512)
#: How many prompts a prefill engine's step may hold.
PREFILL_PROMPTS_PER_STEP: tuple[int, ...] = (1, 2, 4, 8)
#: Where a split's first token comes from: the decode engine (vLLM's proxy), or the prefill engine.
PROXY_MODES = ("ttft_on_decode", "first_token_from_prefill")


@dataclass(frozen=True)
class Layout:
    """One configuration (see the module docstring). GPU counts are :attr:`gpus`.

    Taught in: plan_a_deployment.
    """

    kind: str  # "colocated" or "disaggregated"
    replicas: int = 0
    tp: int = 0
    chunk_tokens: int | None = None
    max_batch: int = 256
    prefill: int = 0
    decode: int = 0
    prefill_tp: int = 0
    decode_tp: int = 0
    prefill_prompts: int = 1
    link_gbps: float = 0.0
    proxy: str = "ttft_on_decode"

    @property
    def gpus(self) -> int:
        if self.kind == "colocated":
            return self.replicas * self.tp
        return self.prefill * self.prefill_tp + self.decode * self.decode_tp

    @property
    def shape(self) -> tuple:
        """The fleet's shape without its settings: (TP, chunk) colocated, (P, D, P's TP, D's TP) split.

        A shape's batch limit, link, prompts per step and proxy mode are settings of the same fleet;
        the planner simulates each shape once.
        """
        if self.kind == "colocated":
            return (self.tp, self.chunk_tokens)
        return (self.prefill, self.decode, self.prefill_tp, self.decode_tp)

    @property
    def label(self) -> str:
        """``"8x TP1 colocated, chunk 512, batch 64"`` or ``"6P TP1 + 1D TP2 @ 400 Gb/s, batch 256"``."""
        if self.kind == "colocated":
            chunk = f"chunk {self.chunk_tokens}" if self.chunk_tokens else "no chunking"
            head = (
                f"TP{self.tp} engine"
                if self.replicas == 1
                else f"{self.replicas}x TP{self.tp} colocated"
            )
            return f"{head}, {chunk}, batch {self.max_batch}"
        first = ", 1st token from P" if self.proxy == "first_token_from_prefill" else ""
        pp = (
            f", {self.prefill_prompts} prompts/step" if self.prefill_prompts > 1 else ""
        )
        return (
            f"{self.prefill}P TP{self.prefill_tp} + {self.decode}D TP{self.decode_tp} @ {self.link_gbps:g} Gb/s, "
            f"batch {self.max_batch}{pp}{first}"
        )

    def to_dict(self) -> dict:
        d = {
            k: v for k, v in asdict(self).items() if v not in (0, 0.0) or k in ("kind",)
        }
        if self.kind == "colocated":
            for k in ("prefill_prompts", "proxy", "link_gbps"):
                d.pop(k, None)
            d["chunk_tokens"] = self.chunk_tokens
        d["gpus"] = self.gpus
        d["label"] = self.label
        return d

    def fleet(self, isl: int, split_overhead_s: float = 0.0) -> Fleet:
        """The simulator's fleet for this layout (prompts of about ``isl`` tokens set the prefill step's budget)."""
        if self.kind == "colocated":
            return Colocated(
                self.replicas,
                tp=self.tp,
                chunk_tokens=self.chunk_tokens,
                max_batch=self.max_batch,
            )
        return Disaggregated(
            self.prefill,
            self.decode,
            self.link_gbps,
            self.proxy,
            prefill_tp=self.prefill_tp,
            decode_tp=self.decode_tp,
            prefill_batch_tokens=self.prefill_prompts * isl,
            transfer_latency_s=split_overhead_s,
            max_batch=self.max_batch,
        )


def enumerate_layouts(q: Question, fitting_tp: list[int]) -> list[Layout]:
    """Every layout within ``q.gpus`` GPUs at the degrees in ``fitting_tp`` (raises when none fits).

    Taught in: plan_a_deployment.
    """
    tps = [t for t in fitting_tp if t <= q.gpus]
    if not tps:
        if fitting_tp:
            need = f"one engine needs at least {min(fitting_tp)} GPUs (tensor parallel)"
        else:
            need = (
                f"its weights and a {MIN_KV_TOKENS}-token KV cache fit one engine at no tensor-parallel degree "
                f"of {TP_CANDIDATES} that splits its heads evenly (pipeline parallelism is not planned)"
            )
        raise ValueError(f"{q.model} fits no layout within {q.gpus} x {q.gpu}: {need}")
    out: list[Layout] = []
    for tp in tps:
        for replicas in range(1, q.gpus // tp + 1):
            for chunk in CHUNKS:
                for batch in MAX_BATCHES:
                    out.append(
                        Layout(
                            "colocated",
                            replicas=replicas,
                            tp=tp,
                            chunk_tokens=chunk,
                            max_batch=batch,
                        )
                    )
    for ptp in tps:
        for dtp in tps:
            for x in range(1, q.gpus // ptp + 1):
                for y in range(1, (q.gpus - x * ptp) // dtp + 1):
                    for link in q.links_gbps:
                        for batch in MAX_BATCHES:
                            for m in PREFILL_PROMPTS_PER_STEP:
                                for proxy in PROXY_MODES:
                                    out.append(
                                        Layout(
                                            "disaggregated",
                                            prefill=x,
                                            decode=y,
                                            prefill_tp=ptp,
                                            decode_tp=dtp,
                                            prefill_prompts=m,
                                            link_gbps=link,
                                            proxy=proxy,
                                            max_batch=batch,
                                        )
                                    )
    return out
