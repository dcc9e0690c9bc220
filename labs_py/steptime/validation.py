"""How far to trust the step model: every measured point beside its prediction (``python -m labs_py.steptime
validate``).

One :class:`Check` per measured number: where it came from, what it is, the
measurement, the prediction, the relative error, and the *set*: whether the
calibration saw it.

* ``fitted``: the device terms were fitted on it;
* ``held out``: a reference point the fit never saw (a whole model, Qwen3-32B, and a
  whole TP degree, 8, for vLLM; OPT-66B for DistServe);
* ``fitted (host)`` / ``fitted (client)``: the one number each machine's host or client
  overhead was fitted on;
* ``check``: a course measurement nothing was fitted on.

Targets (:data:`TARGETS`): on held-out reference points, a decode step within 15% and a
prefill of 2,048 tokens or more within 20%; every course measurement within 25%. A
point outside its target is an *exception*, and carries an *account*: the computed
terms that explain the gap, printed beside it.

The reverse fit (:func:`reverse_summary`) swaps the sets: the device terms are fitted
on the held-out points and checked on the rest, so that the split is not a lucky one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace

from labs_py.defaults import A100_SXM, H100_SXM
from labs_py.steptime import course_runs, fit, reference
from labs_py.steptime.model import engine_profile, step_coefficients

__all__ = [
    "TARGETS",
    "Check",
    "reference_checks",
    "course_checks",
    "checks",
    "target_of",
    "exceptions",
    "summary",
    "reverse_summary",
    "format_table",
]

#: (source kind, phase) -> the largest relative error the target allows.
TARGETS = {"decode": 0.15, "prefill": 0.20, "course": 0.25}
#: Prefill targets start at this prompt length (shorter prompts are dominated by fixed costs).
PREFILL_TARGET_FROM_TOKENS = 2048

AICONFIGURATOR = (
    "aiconfigurator: vLLM kernels"  # reference estimates from measured kernels
)
DISTSERVE = "DistServe: its engine's steps"
WEEK16 = "course: Week 16 serving"
STANDALONE = "course: standalone prefill"
L4_PAIR = "course: lab 15-02 2xL4 pair"


@dataclass(frozen=True)
class Check:
    """One measured number beside the model's prediction.

    Taught in: no chapter calls it directly; it works behind interference.
    """

    source: str
    label: str
    measured: float
    predicted: float
    unit: str
    set: str
    phase: str = ""  # "prefill" or "decode" for step times, "" for course rows
    tokens: int = 0  # the prompt length of a prefill reference point
    account: str = ""  # for an exception: the computed terms that explain it

    @property
    def error(self) -> float:
        """Relative error of the prediction: ``predicted / measured - 1``."""
        return self.predicted / self.measured - 1.0


def target_of(c: Check) -> float | None:
    """The largest error ``c`` may have, or ``None`` when no target applies (fitted points, short prefills).

    Taught in: no chapter calls it directly; it works behind interference.
    """
    if c.source.startswith("course"):
        return TARGETS["course"]
    if c.source != AICONFIGURATOR or c.set != "held out":
        return None  # the targets' grid: vLLM on H100 and A100, held-out points
    if c.phase == "prefill" and c.tokens < PREFILL_TARGET_FROM_TOKENS:
        return None
    return TARGETS[c.phase]


def reference_checks(engine: str | None = None) -> list[Check]:
    """Every reference step time (fitted and held out) beside the calibrated model's.

    Taught in: no chapter calls it directly; it works behind interference.
    """
    out = []
    for p in reference.points(engine):
        co = step_coefficients(
            p.model, p.gpu, tp=p.tp, engine=engine_profile(p.engine, p.gpu)
        )
        kernel_only = p.engine == "vllm"
        pred = fit.point_seconds(co, p, device_only=kernel_only)
        out.append(
            Check(
                AICONFIGURATOR if kernel_only else DISTSERVE,
                p.label,
                p.seconds * 1e3,
                pred * 1e3,
                "ms",
                p.split,
                p.phase,
                p.tokens if p.phase == "prefill" else 0,
            )
        )
    return out


def _week16_checks(engine: str) -> list[Check]:
    out = []
    for row in course_runs.week16_rows():
        pred = course_runs.predict_week16(row, engine=engine)
        ratio = course_runs.week16_ttft_is_end_to_end(row)
        e2e = (
            f"the column is end-to-end (non-streaming client): mean output {row.mean_output_tokens:.1f} tokens x "
            f"ITL p50 {row.itl_p50_ms:g} ms = {ratio:.1%} of it; predicted as client + prefill + "
            f"{row.mean_output_tokens - 1:.0f} decode steps at batch {pred.batch:.1f}"
        )
        itl_set = "fitted (host)" if row.tp == 1 else "check"
        out += [
            Check(
                WEEK16,
                f"{row.label} ITL p50",
                row.itl_p50_ms,
                pred.itl_p50_ms,
                "ms",
                itl_set,
            ),
            Check(
                WEEK16,
                f"{row.label} ITL p99",
                row.itl_p99_ms,
                pred.itl_p99_ms,
                "ms",
                "check",
            ),
            Check(
                WEEK16,
                f"{row.label} 'TTFT' p50",
                row.ttft_p50_ms,
                pred.e2e_p50_ms,
                "ms",
                "check",
                account=e2e,
            ),
            Check(
                WEEK16,
                f"{row.label} 'TTFT' p99",
                row.ttft_p99_ms,
                pred.e2e_p99_ms,
                "ms",
                "check",
                account=e2e,
            ),
            Check(
                WEEK16,
                f"{row.label} duration",
                row.duration_s,
                pred.duration_s,
                "s",
                "check",
            ),
            Check(
                WEEK16,
                f"{row.label} output tok/s",
                row.output_tok_per_s,
                pred.output_tok_per_s,
                "tok/s",
                "check",
            ),
        ]
    return out


def _standalone_checks(engine: str) -> list[Check]:
    return [
        Check(
            STANDALONE,
            f"H100-SXM TTFT {n:,} tokens",
            ms,
            course_runs.standalone_ttft_seconds(n, engine) * 1e3,
            "ms",
            "fitted (client)",
        )
        for n, ms in course_runs.standalone_rows()
    ]


def _l4_checks(engine: str) -> list[Check]:
    c = course_runs.l4_capture()
    p = course_runs.predict_l4(engine)
    terms = f"client {p.client_ms:.1f} + prefill {p.prefill_step_ms:.1f} ms"
    pair = (
        f"prefill leg {p.prefill_leg_ms:.1f} + KV {c['kv_bytes'] / 2**20:.1f} MiB at "
        f"{course_runs.L4_KV_LINK_GBPS:g} Gb/s {p.transfer_ms:.2f} + first decode step {p.decode_step_ms:.2f} ms"
    )
    mixed = f"a step carrying the whole {c['prompt_tokens']:,}-token prompt beside one decode: {p.mixed_step_ms:.1f} ms"
    s, q = c["single"], c["pair"]
    return [
        Check(
            L4_PAIR,
            "prefill leg",
            c["prefill_leg_ms"],
            p.prefill_leg_ms,
            "ms",
            "fitted (client)",
            account=terms,
        ),
        Check(
            L4_PAIR,
            "single TTFT",
            s["ttft_ms"],
            p.single_ttft_ms,
            "ms",
            "check",
            account=terms,
        ),
        Check(
            L4_PAIR,
            "single ITL p50",
            s["itl_p50_ms"],
            p.single_itl_p50_ms,
            "ms",
            "fitted (host)",
        ),
        Check(
            L4_PAIR,
            "single ITL p99",
            s["itl_p99_ms"],
            p.single_itl_p99_ms,
            "ms",
            "check",
            account=mixed,
        ),
        Check(
            L4_PAIR,
            "pair TTFT",
            q["ttft_ms"],
            p.pair_ttft_ms,
            "ms",
            "check",
            account=pair,
        ),
        Check(
            L4_PAIR, "pair ITL p50", q["itl_p50_ms"], p.pair_itl_p50_ms, "ms", "check"
        ),
        Check(
            L4_PAIR, "pair ITL p99", q["itl_p99_ms"], p.pair_itl_p99_ms, "ms", "check"
        ),
    ]


def course_checks(engine: str = "vllm") -> list[Check]:
    """Every measurement of the course material beside the model's prediction.

    Taught in: no chapter calls it directly; it works behind interference.
    """
    return _week16_checks(engine) + _standalone_checks(engine) + _l4_checks(engine)


def checks() -> list[Check]:
    """The whole table: reference step times, then the course's measurements.

    Taught in: interference.
    """
    return reference_checks() + course_checks()


def exceptions(rows: Iterable[Check]) -> list[Check]:
    """The rows outside their target.

    Taught in: interference.
    """
    return [c for c in rows if (t := target_of(c)) is not None and abs(c.error) > t]


@dataclass(frozen=True)
class Summary:
    """Median and worst absolute error of a group of checks.

    Taught in: no chapter calls it directly; it works behind interference.
    """

    source: str
    set: str
    count: int
    median_error: float
    worst_error: float
    worst_label: str


def summary(rows: Iterable[Check]) -> list[Summary]:
    """One :class:`Summary` per (source, set), in table order.

    Taught in: interference.
    """
    groups: dict[tuple[str, str], list[Check]] = {}
    for c in rows:
        s = c.set
        if c.phase == "prefill":
            s += f", prefill {'>=' if c.tokens >= PREFILL_TARGET_FROM_TOKENS else '<'} {PREFILL_TARGET_FROM_TOKENS:,}"
        elif c.phase:
            s += ", decode"
        groups.setdefault((c.source, s), []).append(c)
    out = []
    for (src, s), cs in groups.items():
        worst = max(cs, key=lambda c: abs(c.error))
        out.append(
            Summary(
                src,
                s,
                len(cs),
                statistics.median(abs(c.error) for c in cs),
                abs(worst.error),
                worst.label,
            )
        )
    return out


def reverse_summary() -> list[Summary]:
    """Fit vLLM's device terms on the *held-out* points instead, and check them on the usually fitted ones.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    out = []
    for gpu in (H100_SXM, A100_SXM):
        base = engine_profile("vllm", gpu)
        rev = fit.fit_device("vllm", gpu, base.allreduce, split="held out").profile
        rows = []
        for p in reference.points("vllm", "fitted"):
            if p.gpu != gpu:
                continue
            co = step_coefficients(p.model, gpu, tp=p.tp, engine=rev)
            pred = fit.point_seconds(co, p, device_only=True)
            rows.append(
                Check(
                    AICONFIGURATOR,
                    p.label,
                    p.seconds * 1e3,
                    pred * 1e3,
                    "ms",
                    "held out",
                    p.phase,
                    p.tokens if p.phase == "prefill" else 0,
                )
            )
        out += [
            replace(
                s,
                source=f"{AICONFIGURATOR}, reversed",
                set=f"{gpu} {s.set.replace('held out', 'unseen')}",
            )
            for s in summary(rows)
        ]
    return out


def _fmt(v: float) -> str:
    return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"


def format_table(rows: list[Check], *, accounts: bool = True) -> str:
    """The validation table as text: one line per check, grouped by source, each exception flagged with ``!``.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    lines = []
    src = None
    for c in rows:
        if c.source != src:
            src = c.source
            lines += [
                "",
                f"== {src}",
                f"{'':2}{'point':<56} {'measured':>10} {'predicted':>10} {'error':>7}  set",
            ]
        t = target_of(c)
        flag = "!" if t is not None and abs(c.error) > t else " "
        lines.append(
            f"{flag} {c.label:<56} {_fmt(c.measured):>10} {_fmt(c.predicted):>10} {c.error:+7.1%}  "
            f"{c.set} [{c.unit}]"
        )
        if accounts and c.account and (flag == "!" or c.source.startswith("course")):
            lines.append(f"{'':4}account: {c.account}")
    return "\n".join(lines).lstrip("\n")


def format_summary(groups: list[Summary]) -> str:
    """Points, median and worst error per (source, set), each group's worst point on the line below it.

    Taught in: interference.
    """
    w_src = max(len(s.source) for s in groups)
    w_set = max(len(s.set) for s in groups)
    lines = [
        f"{'source':<{w_src}}  {'set':<{w_set}} {'points':>6} {'median':>7} {'worst':>7}"
    ]
    for s in groups:
        lines.append(
            f"{s.source:<{w_src}}  {s.set:<{w_set}} {s.count:>6} {s.median_error:>7.1%} {s.worst_error:>7.1%}"
        )
        lines.append(f"{'':4}worst: {s.worst_label}")
    return "\n".join(lines)
