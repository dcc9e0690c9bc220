"""Latencies per request, and the numbers SLOs are written on.

From the raw timeline of :mod:`labs_py.sim.eventloop`, every request gets

* **TTFT**: arrival to first token;
* **every inter-token gap** (ITL): the time between consecutive tokens of a request;
* the **second-token gap**: where a disaggregated fleet that streams its first token
  from prefill pays the KV transfer;
* **TPOT**: ``(E2E - TTFT) / (output - 1)``, the mean gap (vLLM's definition);
* **E2E**: arrival to last token.

and the fleet gets percentiles (one definition: :mod:`labs_py.core.stats`), SLO attainment
and throughput. All of it is numpy over whole arrays: the event loop recorded one time
per step, and here those times are gathered into one array of every token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from labs_py.core.stats import percentile, summarize
from labs_py.core.validate import one_of, positive_float
from labs_py.sim.eventloop import RawRun
from labs_py.sim.workload import Workload

DECODE_METRICS: tuple[str, ...] = ("tpot", "max_itl")


@dataclass
class SimResult:
    """One simulated run: the workload, the raw timeline, and every latency derived from them.

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, real_pair, plan_a_deployment,
        compression_and_pooling.
    """

    workload: Workload
    raw: RawRun
    gpus: int
    label: str = ""
    meta: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- per request
    @property
    def ttft_s(self) -> np.ndarray:
        """Time to first token, seconds, per request."""
        return self.raw.first_token_s - self.workload.arrival_s

    @cached_property
    def _tokens(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Times of tokens 2.. of every request (flat), each token's request, and segment starts."""
        raw = self.raw
        counts = raw.rest_count
        total = int(counts.sum())
        if total == 0:
            return (
                np.empty(0),
                np.empty(0, dtype=np.int64),
                np.zeros(len(counts), dtype=np.int64),
            )
        lens = [len(t) for t in raw.decode_step_times]
        offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        flat_times = np.concatenate(raw.decode_step_times) if lens else np.empty(0)
        inst = np.where(raw.rest_instance >= 0, raw.rest_instance, 0)
        global_start = offsets[inst] + raw.rest_start
        seg_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        idx = np.repeat(global_start - seg_start, counts) + np.arange(total)
        owner = np.repeat(np.arange(len(counts)), counts)
        return flat_times[idx], owner, seg_start

    @cached_property
    def itl_s(self) -> np.ndarray:
        """Every inter-token gap of every request, seconds (flat; requests in order)."""
        times, owner, seg_start = self._tokens
        if times.size == 0:
            return times
        prev = np.empty_like(times)
        prev[1:] = times[:-1]
        has = self.raw.rest_count > 0
        prev[seg_start[has]] = self.raw.first_token_s[has]
        return times - prev

    @property
    def itl_owner(self) -> np.ndarray:
        """For each entry of :attr:`itl_s`, the index of its request."""
        return self._tokens[1]

    @property
    def last_token_s(self) -> np.ndarray:
        """When each request's last token came out, seconds from t=0."""
        times, _, seg_start = self._tokens
        out = self.raw.first_token_s.copy()
        has = self.raw.rest_count > 0
        out[has] = times[seg_start[has] + self.raw.rest_count[has] - 1]
        return out

    @property
    def e2e_s(self) -> np.ndarray:
        """Arrival to last token, seconds, per request."""
        return self.last_token_s - self.workload.arrival_s

    @property
    def tpot_s(self) -> np.ndarray:
        """Mean gap after the first token, ``(E2E - TTFT) / (output - 1)``; NaN for one-token requests."""
        n = self.workload.output_tokens - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(
                n > 0,
                (self.last_token_s - self.raw.first_token_s) / np.maximum(n, 1),
                np.nan,
            )

    @property
    def second_token_gap_s(self) -> np.ndarray:
        """Gap between tokens 1 and 2, per request (NaN for one-token requests)."""
        times, _, seg_start = self._tokens
        out = np.full(self.workload.n, np.nan)
        has = self.raw.rest_count > 0
        out[has] = times[seg_start[has]] - self.raw.first_token_s[has]
        return out

    @cached_property
    def max_itl_s(self) -> np.ndarray:
        """Each request's worst inter-token gap (0 for one-token requests)."""
        out = np.zeros(self.workload.n)
        if self.itl_s.size:
            np.maximum.at(out, self.itl_owner, self.itl_s)
        return out

    # ---------------------------------------------------------------- fleet
    @property
    def makespan_s(self) -> float:
        """First arrival to last token, seconds."""
        return float(np.nanmax(self.last_token_s) - self.workload.arrival_s[0])

    @property
    def throughput_rps(self) -> float:
        """Requests completed per second of makespan."""
        return self.workload.n / self.makespan_s

    @property
    def output_tokens_per_s(self) -> float:
        """Generated tokens per second of makespan."""
        return float(self.workload.output_tokens.sum()) / self.makespan_s

    def summary(self) -> dict[str, float]:
        """p50/p90/p99 of TTFT, ITL, TPOT and E2E in **milliseconds**, plus throughput."""
        out: dict[str, float] = {}
        for name, arr in (
            ("ttft", self.ttft_s),
            ("itl", self.itl_s),
            ("tpot", self.tpot_s),
            ("e2e", self.e2e_s),
        ):
            a = arr[np.isfinite(arr)]
            if a.size:
                for k, v in summarize(a * 1e3).items():
                    if k.startswith("p") or k == "mean":
                        out[f"{name}_{k}_ms"] = v
        out["throughput_rps"] = self.throughput_rps
        out["output_tokens_per_s"] = self.output_tokens_per_s
        return out

    def percentile_ms(self, metric: str, q: float) -> float:
        """The ``q``-th percentile of ``"ttft"``, ``"itl"``, ``"tpot"``, ``"e2e"`` or ``"second_token_gap"``, ms."""
        one_of(
            "metric",
            metric,
            ("ttft", "itl", "tpot", "e2e", "second_token_gap"),
            "latency metric",
        )
        arr = getattr(self, f"{metric}_s")
        return percentile(arr[np.isfinite(arr)] * 1e3, q)

    def attainment(
        self, ttft_slo_s: float, decode_slo_s: float, decode_metric: str = "tpot"
    ) -> float:
        """Fraction of requests meeting *both* SLOs (DistServe's attainment).

        ``decode_metric="tpot"`` judges a request by its mean gap (DistServe); ``"max_itl"``
        by its worst gap, the stricter reading that every token must arrive in time.
        A one-token request has no decode phase and meets any decode SLO.
        """
        ttft = positive_float("ttft_slo_s", ttft_slo_s, "seconds")
        dec = positive_float("decode_slo_s", decode_slo_s, "seconds")
        one_of("decode_metric", decode_metric, DECODE_METRICS, "decode SLO metric")
        d = self.tpot_s if decode_metric == "tpot" else self.max_itl_s
        ok = (self.ttft_s <= ttft) & ((d <= dec) | np.isnan(d))
        return float(ok.mean())
