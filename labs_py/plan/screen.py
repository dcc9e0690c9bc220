"""Stage 1 of the planner: score every layout analytically, in microseconds each.

Each kind of engine gets a *curve* once, over a grid of request rates per engine, from
the device's step times and a little queueing (all of it the book's):

* **a colocated engine** (TP, chunk size): ``b`` requests decode at once (Little's law:
  ``b = rate x osl x step``); a share ``f = rate x chunks x step`` of its steps also carry a
  prefill chunk, so the mean step (the TPOT) is ``f x mixed + (1 - f) x clean``. A prompt's
  prefill takes its chunks' steps, and waits in an M/D/1 queue whose utilisation is ``f``
  (without chunking the decodes stall instead: TPOT = clean step / (1 - prefill share));
* **a prefill engine** (TP, prompts per step): an M/D/1 queue of batched prefill steps;
* **a link**: an M/D/1 queue of KV transfers at the link's rate (the economics' price);
* **a decode engine** (TP): Little's law again, with no chunk in any step.

The 90th percentile of a queue's wait is taken from the exponential tail of M/D/1,
``P(W > t) = rho exp(-t / tau)`` with mean ``rho tau``. A fleet's goodput is then the largest
total rate at which its engines, each at its share of the rate, meet both SLOs, its batch
limit and its KV capacity; :func:`score` also names the term that stops it there.

Taught in: plan_a_deployment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from labs_py import economics as econ
from labs_py.models import get_model
from labs_py.plan.question import Question
from labs_py.plan.space import MAX_BATCHES, Layout
from labs_py.steptime import chunk_attention_pairs

__all__ = ["Score", "Screener", "p90_wait_s"]

GRID_POINTS = 90
#: A link (an M/D/1 queue of transfers) counts as saturated from this utilisation on.
LINK_RHO_MAX = 0.99


def p90_wait_s(rho: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """90th-percentile wait of an M/D/1 queue (exponential-tail approximation), seconds; inf when ``rho >= 1``.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """
    rho = np.asarray(rho, float)
    mean = np.where(rho < 1, rho * service_s / (2 * np.maximum(1 - rho, 1e-12)), np.inf)
    tau = mean / np.maximum(rho, 1e-12)
    return np.where(
        rho < 1,
        np.where(10 * rho > 1, tau * np.log(np.maximum(10 * rho, 1.0)), 0.0),
        np.inf,
    )


@dataclass(frozen=True)
class Score:
    """A layout's analytic score: goodput, per GPU, tokens/s/GPU under the SLOs, latencies there, and why it stops.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """

    layout: Layout
    goodput_rps: float
    ttft_p90_s: float
    tpot_s: float
    limit: str  # the term that stops the layout at its goodput
    terms_ms: dict = field(
        default_factory=dict, compare=False
    )  # where on the curve (Screener.terms_ms explains)

    @property
    def goodput_rps_per_gpu(self) -> float:
        return self.goodput_rps / self.layout.gpus


class Screener:
    """The curves of one question on one device, and the score of any layout from them (see the module docstring).

    Taught in: plan_a_deployment.
    """

    def __init__(self, q: Question, device) -> None:
        self.q, self.dev = q, device
        self._curves: dict[tuple, dict[str, np.ndarray]] = {}
        self.ctx = q.isl + q.osl / 2  # KV a decoding request attends to, on average
        self.kv_per_token = get_model(q.model).kv_bytes_per_token()
        self.payload = econ.kv_payload_bytes(q.isl, self.kv_per_token)

    # ---- per-engine curves ------------------------------------------------------------------------
    def _grid(self, capacity_rps: float) -> np.ndarray:
        return np.geomspace(capacity_rps * 1e-3, capacity_rps * 1.2, GRID_POINTS)

    def _cached(self, key: tuple, make) -> dict[str, np.ndarray]:
        if key not in self._curves:
            self._curves[key] = make()
        return self._curves[key]

    def decode_curve(self, tp: int) -> dict[str, np.ndarray]:
        """A decode-only engine over its request rate: batch, step (= TPOT)."""
        return self._cached(("decode", tp), lambda: self._decode_curve(tp))

    def prefill_curve(self, tp: int, prompts: int) -> dict[str, np.ndarray]:
        """A prefill-only engine over its request rate: TTFT's prefill part at p90 (queue + one batched step)."""
        return self._cached(
            ("prefill", tp, prompts), lambda: self._prefill_curve(tp, prompts)
        )

    def colocated_curve(self, tp: int, chunk: int | None) -> dict[str, np.ndarray]:
        """A colocated engine over its request rate: batch, TPOT, TTFT at p90, prefill share."""
        return self._cached(
            ("colocated", tp, chunk), lambda: self._colocated_curve(tp, chunk)
        )

    def _decode_curve(self, tp: int) -> dict[str, np.ndarray]:
        co = self.dev.timer(tp)
        osl, ctx = self.q.osl, self.ctx
        big = co.decode_seconds(1024, ctx)
        grid = self._grid(1024 / (osl * big))
        b = np.ones_like(grid)
        for _ in range(12):
            s = np.array([co.decode_seconds(float(x), ctx) for x in b])
            b = np.maximum(1.0, grid * osl * s)
        s = np.array([co.decode_seconds(float(x), ctx) for x in b])
        return {"rate": grid, "batch": b, "step": s}

    def _prefill_curve(self, tp: int, prompts: int) -> dict[str, np.ndarray]:
        co = self.dev.timer(tp)
        n = self.q.isl
        alone = co.prefill_seconds(n)
        batch = co.step_seconds(
            prompts * n, prompts * chunk_attention_pairs(n), prompts, 0, 0
        )
        grid = self._grid(prompts / batch)
        rho = grid * batch / prompts
        part = alone + p90_wait_s(rho, np.full_like(grid, batch))
        return {
            "rate": grid,
            "ttft": part,
            "rho": rho,
            "prefill": np.full_like(grid, alone),
            "queue": part - alone,
        }

    def _colocated_curve(self, tp: int, chunk: int | None) -> dict[str, np.ndarray]:
        co = self.dev.timer(tp)
        q, ctx = self.q, self.ctx
        n = q.isl
        clean1 = co.decode_seconds(1, ctx)
        pre = co.prefill_seconds(n)
        # up to where the engine surely fails: its prompts fill every step, or its batch passes the largest limit
        most = max(MAX_BATCHES)
        grid = self._grid(min(1.0 / pre, most / (q.osl * co.decode_seconds(most, ctx))))
        b = np.ones_like(grid)
        if chunk is None:
            for _ in range(12):
                clean = np.array([co.decode_seconds(float(x), ctx) for x in b])
                share = grid * pre
                tpot = np.where(share < 1, clean / np.maximum(1 - share, 1e-9), np.inf)
                b = np.maximum(1.0, grid * q.osl * np.minimum(tpot, 10.0))
            ttft = pre + p90_wait_s(share, np.full_like(grid, pre))
            return {
                "rate": grid,
                "batch": b,
                "tpot": tpot,
                "ttft": ttft,
                "share": share,
                "prefill": np.full_like(grid, pre),
            }
        c = min(chunk, n)
        k = math.ceil(n / c)
        pairs = chunk_attention_pairs(n) / k
        step = np.full_like(grid, clean1)
        for _ in range(12):
            clean = np.array([co.decode_seconds(float(x), ctx) for x in b])
            mixed = np.array(
                [co.step_seconds(c, pairs, 1, float(x), float(x) * ctx) for x in b]
            )
            share = np.minimum(grid * k * step, 1.0)
            step = share * mixed + (1 - share) * clean
            b = np.maximum(1.0, grid * q.osl * step)
        mixed = np.array(
            [co.step_seconds(c, pairs, 1, float(x), float(x) * ctx) for x in b]
        )
        share = grid * k * step
        ttft = k * mixed + p90_wait_s(share, k * mixed)
        return {
            "rate": grid,
            "batch": b,
            "tpot": np.where(share < 1, step, np.inf),
            "ttft": ttft,
            "share": share,
            "prefill": k * mixed,
        }

    # ---- a layout -----------------------------------------------------------------------------------
    def _split_arrays(self, L: Layout) -> dict[str, np.ndarray]:
        """What a split's score needs over its total rate, shared by its batch-limit and proxy variants."""
        pc = self.prefill_curve(L.prefill_tp, L.prefill_prompts)
        dc = self.decode_curve(L.decode_tp)
        cap = min(pc["rate"][-1] * L.prefill, dc["rate"][-1] * L.decode)
        lam = np.geomspace(cap * 1e-3, cap, 2 * GRID_POINTS)
        rp, rd = lam / L.prefill, lam / L.decode
        wire = econ.transfer_seconds(
            self.payload, L.link_gbps * self.dev.wire_efficiency
        )
        link_rho = rp * wire
        return {
            "lam": lam,
            "rp": rp,
            "prefill_part": self._at(pc, "ttft", rp),
            "wire": np.array([wire]),
            "link_rho": link_rho,
            "link_wait": p90_wait_s(link_rho, np.full_like(lam, wire)),
            "step": self._at(dc, "step", rd),
            "batch": self._at(dc, "batch", rd),
        }

    def _at(self, curve: dict, key: str, rate: np.ndarray) -> np.ndarray:
        """``curve[key]`` at per-engine ``rate``s (log-linear interpolation; inf past the curve's end)."""
        r = curve["rate"]
        y = np.interp(np.log(rate), np.log(r), np.nan_to_num(curve[key], posinf=1e9))
        return np.where(rate > r[-1], 1e9, y)

    def score(self, L: Layout) -> Score:
        """The layout's analytic goodput and the term that limits it."""
        q = self.q
        if L.kind == "colocated":
            cv = self.colocated_curve(L.tp, L.chunk_tokens)
            per = cv["rate"]
            checks = {  # each term's margin: its value over its bound, minus 1 (<= 0: met)
                "TTFT (prefill and its queue)": cv["ttft"] / q.ttft_s - 1,
                "TPOT (decode steps, with prefill chunks in them)": cv["tpot"]
                / q.tpot_s
                - 1,
                "batch limit": cv["batch"] / L.max_batch - 1,
                "KV capacity": cv["batch"]
                * (q.isl + q.osl)
                / self.dev.kv_capacity_tokens(L.tp)
                - 1,
            }
            rate, limit, i = _best(per, checks)
            return Score(
                L,
                rate * L.replicas,
                float(cv["ttft"][i]),
                float(cv["tpot"][i]),
                limit,
                {"index": i},
            )
        a = self._cached(_split_key(L), lambda: self._split_arrays(L))
        lam, prefill_part, wire, link_rho, link_wait, step, batch = (
            a["lam"],
            a["prefill_part"],
            float(a["wire"][0]),
            a["link_rho"],
            a["link_wait"],
            a["step"],
            a["batch"],
        )
        toll = wire + link_wait + self.dev.split_overhead_s
        if L.proxy == "ttft_on_decode":
            ttft, tpot = prefill_part + toll + step, step
        else:  # the first token streams from prefill; the second waits for the KV
            ttft, tpot = prefill_part, step + (toll + step) / (q.osl - 1)
        checks = {
            "TTFT (prefill queue)": prefill_part / q.ttft_s - 1,
            "TTFT (the KV toll)": ttft / q.ttft_s - 1,
            "TPOT (decode steps)": tpot / q.tpot_s - 1,
            "link saturated": link_rho / LINK_RHO_MAX - 1,
            "batch limit": batch / L.max_batch - 1,
            "KV capacity": batch
            * (q.isl + q.osl)
            / self.dev.kv_capacity_tokens(L.decode_tp)
            - 1,
        }
        rate, limit, i = _best(lam, checks)
        return Score(L, rate, float(ttft[i]), float(tpot[i]), limit, {"index": i})

    def terms_ms(self, sc: Score) -> dict[str, float]:
        """The TTFT of a scored layout at its goodput, term by term (ms): what the verdict names."""
        L, i = sc.layout, sc.terms_ms["index"]
        if L.kind == "colocated":
            cv = self.colocated_curve(L.tp, L.chunk_tokens)
            return {
                "prefill": float(cv["prefill"][i] * 1e3),
                "queue": float((cv["ttft"][i] - cv["prefill"][i]) * 1e3),
            }
        pc = self.prefill_curve(L.prefill_tp, L.prefill_prompts)
        a = self._cached(_split_key(L), lambda: self._split_arrays(L))
        rp = a["rp"][i : i + 1]
        return {
            "prefill": float(self._at(pc, "prefill", rp)[0] * 1e3),
            "queue": float(self._at(pc, "queue", rp)[0] * 1e3),
            "wire": float(a["wire"][0] * 1e3),
            "link queue": float(a["link_wait"][i] * 1e3),
            "overhead": self.dev.split_overhead_s * 1e3,
            "first decode step": float(a["step"][i] * 1e3),
        }


def _split_key(L: Layout) -> tuple:
    """What a split's arrays depend on: its batch-limit and proxy variants share them."""
    return (
        "split",
        L.prefill_tp,
        L.prefill_prompts,
        L.decode_tp,
        L.prefill,
        L.decode,
        L.link_gbps,
    )


def _best(rates: np.ndarray, margins: dict[str, np.ndarray]) -> tuple[float, str, int]:
    """The largest rate of the unbroken feasible run from the lowest, the term that breaks it, the last index in it.

    ``margins[term]`` is that term's value over its bound, minus one, at each rate (<= 0: met). The rate
    where the breaking term crosses zero is interpolated between the grid's points (log-linear), so the
    score does not move in the grid's steps.
    """
    m = np.vstack(list(margins.values()))
    m[np.isnan(m)] = (
        np.inf
    )  # a term that cannot be computed there (a saturated queue) is not met
    names = list(margins)
    worst = m.max(axis=0)
    if worst[0] > 0:
        return 0.0, names[int(np.argmax(m[:, 0] > 0))], 0
    bad = np.flatnonzero(worst > 0)
    if bad.size == 0:
        return float(rates[-1]), "capacity (the grid's end)", len(rates) - 1
    j = int(bad[0])
    k = int(np.argmax(m[:, j] > 0))
    before, after = float(m[k, j - 1]), float(m[k, j])
    t = 0.0 if not np.isfinite(after) or after >= 1e6 else -before / (after - before)
    rate = float(
        np.exp(
            np.log(rates[j - 1])
            + min(max(t, 0.0), 1.0) * (np.log(rates[j]) - np.log(rates[j - 1]))
        )
    )
    return rate, names[k], j - 1
