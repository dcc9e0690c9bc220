"""Lab 03 spec: the checks that grade a starter or the solution.

The numbers pinned here are the lab's own (:mod:`labs_py.course`): a 2048-token
Llama-3.1-8B prompt is 256 MiB of bf16 KV; that is about 11 ms over a 200 Gb/s
fabric and about 215 ms over 10 GbE, against about 205 ms of prefill; a 10 ms
decode step under 25 ms chunks has a worst-case ITL of 35 ms (3.5x); and 70B
carries 2.5x the payload of 8B.
"""

from __future__ import annotations

import math

from labs_py import course
from labs_py.defaults import DEFAULT_GPU, LLAMA_8B, LLAMA_70B
from labs_py.economics import LINK_TOO_SLOW, NO_INTERFERENCE, SPLIT_PAYS, Verdict
from labs_py.models import kv_bytes_per_token
from labs_py.steptime import placement, step_coefficients

MIB = 2**20
PROMPT = course.EXAMPLE_PROMPT_TOKENS
PREFILL_S = course.EXAMPLE_PREFILL_S  # the lab's prefill time for this prompt
FAST_FABRIC_GBPS = course.EXAMPLE_FAST_LINK_GBPS
TEN_GBE = course.EXAMPLE_SLOW_LINK_GBPS
STEP_S = course.EXAMPLE_DECODE_STEP_S
CHUNK_S = course.EXAMPLE_CHUNK_S


def _raises_naming(fn, args: tuple, kwargs: dict, *needles: str) -> None:
    """Assert that ``fn`` raises ValueError (or TypeError) whose message contains every needle."""
    try:
        fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        for needle in needles:
            assert needle in msg, f"error message {msg!r} should mention {needle!r}"
        return
    raise AssertionError(
        f"{fn.__name__}{args or ''}{kwargs or ''} should raise an error, but returned normally"
    )


def check_payload_of_a_2048_token_8b_prompt_is_256_mib(impl) -> None:
    got = impl.kv_payload_bytes(PROMPT, kv_bytes_per_token(LLAMA_8B))
    assert got == course.EXAMPLE_PAYLOAD_BYTES, (
        f"expected 256 MiB ({256 * MIB} bytes), got {got} bytes ({got / MIB:.2f} MiB)"
    )
    assert isinstance(got, int), (
        f"a byte count is a whole number; got {type(got).__name__}"
    )


def check_payload_is_linear_in_prompt(impl) -> None:
    per_token = kv_bytes_per_token(LLAMA_8B)
    for n in (1, 17, 1000, 32768):
        assert impl.kv_payload_bytes(n, per_token) == n * per_token, (
            f"payload of {n} tokens is not {n} x {per_token}"
        )


def check_70b_carries_2_5x_the_payload_of_8b(impl) -> None:
    p8 = impl.kv_payload_bytes(PROMPT, kv_bytes_per_token(LLAMA_8B))
    p70 = impl.kv_payload_bytes(PROMPT, kv_bytes_per_token(LLAMA_70B))
    want = course.EXAMPLE_70B_PAYLOAD_RATIO
    assert p70 / p8 == want, f"70B/8B payload ratio should be {want}, got {p70 / p8}"


def check_the_penalty_is_rerun_per_model(impl) -> None:
    """A bigger model ships more KV *and* prefills more slowly: its penalty is its own, not 2.5x the 8B's.

    Prefill times come from the book's calibrated step model on H100s (each model at the smallest
    tensor-parallel degree it fits): the lab's point is that the budget moves with the model too.
    """
    penalties, prefills = {}, {}
    for model in (LLAMA_8B, LLAMA_70B):
        tp = placement.fitting_tp(model, DEFAULT_GPU)[0]
        prefills[model] = step_coefficients(model, DEFAULT_GPU, tp=tp).prefill_seconds(
            PROMPT
        )
        t = impl.transfer_seconds(
            impl.kv_payload_bytes(PROMPT, kv_bytes_per_token(model)), FAST_FABRIC_GBPS
        )
        penalties[model] = impl.disagg_ttft_penalty(t, prefills[model])
    slower = prefills[LLAMA_70B] / prefills[LLAMA_8B]
    assert slower > 1, f"70B should prefill more slowly than 8B; got {slower:.2f}x"
    reused = course.EXAMPLE_70B_PAYLOAD_RATIO * penalties[LLAMA_8B]
    assert math.isclose(penalties[LLAMA_70B], reused / slower, rel_tol=1e-9), (
        f"70B's penalty should be 2.5x the 8B's divided by its {slower:.2f}x slower prefill, "
        f"{reused / slower:.4f}; got {penalties[LLAMA_70B]:.4f}"
    )
    assert penalties[LLAMA_70B] < reused, (
        "reusing the 8B's ratio, scaled by the payload, overstates the 70B's"
    )


def check_transfer_over_200_gbps_is_about_11_ms(impl) -> None:
    t = impl.transfer_seconds(256 * MIB, FAST_FABRIC_GBPS)
    assert math.isclose(t, 256 * MIB * 8 / 200e9, rel_tol=1e-9), (
        f"expected 10.74 ms, got {t * 1e3:.3f} ms"
    )
    assert round(t * 1e3) == 11


def check_transfer_over_10gbe_is_about_215_ms(impl) -> None:
    t = impl.transfer_seconds(256 * MIB, TEN_GBE)
    assert math.isclose(t, 256 * MIB * 8 / 10e9, rel_tol=1e-9), (
        f"expected 214.7 ms, got {t * 1e3:.3f} ms"
    )
    assert round(t * 1e3) == 215


def check_worst_itl_is_35_ms_under_25_ms_chunks(impl) -> None:
    worst = impl.colocated_itl_worst(STEP_S, CHUNK_S)
    assert math.isclose(worst, 0.035, rel_tol=1e-9), (
        f"expected 35 ms, got {worst * 1e3:.3f} ms"
    )
    assert math.isclose(worst / STEP_S, 3.5, rel_tol=1e-9), (
        "the worst step should be 3.5x a clean 10 ms step"
    )


def check_no_chunk_means_no_tax(impl) -> None:
    assert impl.colocated_itl_worst(STEP_S, 0.0) == STEP_S


def check_penalty_under_6_percent_on_a_fast_fabric(impl) -> None:
    t = impl.transfer_seconds(
        impl.kv_payload_bytes(PROMPT, kv_bytes_per_token(LLAMA_8B)), FAST_FABRIC_GBPS
    )
    p = impl.disagg_ttft_penalty(t, PREFILL_S)
    below = course.EXAMPLE_FAST_PENALTY_BELOW
    assert 0 < p < below, (
        f"penalty on a 200 Gb/s fabric should be under {below:.0%}, got {p:.2%}"
    )
    assert math.isclose(p, t / PREFILL_S, rel_tol=1e-9), (
        "the penalty is the toll as a fraction of prefill time"
    )


def check_penalty_over_100_percent_on_10gbe(impl) -> None:
    t = impl.transfer_seconds(
        impl.kv_payload_bytes(PROMPT, kv_bytes_per_token(LLAMA_8B)), TEN_GBE
    )
    p = impl.disagg_ttft_penalty(t, PREFILL_S)
    above = course.EXAMPLE_SLOW_PENALTY_ABOVE
    assert p > above, f"penalty on 10 GbE should be over {above:.0%}, got {p:.2%}"


def _verdict(impl, **overrides) -> Verdict:
    kwargs = dict(
        prompt_tokens=PROMPT,
        kv_bytes_per_token=kv_bytes_per_token(LLAMA_8B),
        link_gbps=FAST_FABRIC_GBPS,
        prefill_s=PREFILL_S,
        decode_step_s=STEP_S,
        chunk_s=CHUNK_S,
    )
    kwargs.update(overrides)
    v = impl.disagg_wins(**kwargs)
    assert isinstance(v, Verdict), (
        f"disagg_wins should return a Verdict, got {type(v).__name__}"
    )
    return v


def check_verdict_split_pays_on_a_fast_fabric(impl) -> None:
    v = _verdict(impl)
    assert v.wins and v.reason == SPLIT_PAYS, (
        f"expected a win ({SPLIT_PAYS!r}), got {v.reason!r}"
    )
    assert v.payload_bytes == course.EXAMPLE_PAYLOAD_BYTES
    assert math.isclose(v.itl_worst_s, 0.035) and math.isclose(v.itl_inflation, 3.5)
    assert v.ttft_penalty < course.EXAMPLE_FAST_PENALTY_BELOW


def check_verdict_link_too_slow_on_10gbe(impl) -> None:
    v = _verdict(impl, link_gbps=TEN_GBE)
    assert not v.wins and v.reason == LINK_TOO_SLOW, (
        f"expected {LINK_TOO_SLOW!r}, got {v.reason!r}"
    )
    assert v.ttft_penalty > course.EXAMPLE_SLOW_PENALTY_ABOVE


def check_verdict_no_interference_without_chunks(impl) -> None:
    v = _verdict(impl, chunk_s=0.0)
    assert not v.wins and v.reason == NO_INTERFERENCE, (
        f"expected {NO_INTERFERENCE!r}, got {v.reason!r}"
    )
    # even a fast link cannot make a split worth it when there is nothing to cure
    v = _verdict(impl, chunk_s=0.0, link_gbps=3600)
    assert v.reason == NO_INTERFERENCE


def check_bad_tokens_are_rejected(impl) -> None:
    _raises_naming(impl.kv_payload_bytes, (0, 131072), {}, "0", "tokens")
    _raises_naming(impl.kv_payload_bytes, (-5, 131072), {}, "-5", "tokens")


def check_bad_link_speeds_are_rejected(impl) -> None:
    _raises_naming(impl.transfer_seconds, (256 * MIB, 0), {}, "0", "Gb/s")
    _raises_naming(impl.transfer_seconds, (256 * MIB, -10), {}, "-10", "Gb/s")


def check_a_link_in_the_wrong_unit_is_rejected(impl) -> None:
    _raises_naming(impl.transfer_seconds, (256 * MIB, "25 GB/s"), {}, "25 GB/s", "Gb/s")
    _raises_naming(impl.transfer_seconds, (256 * MIB, 200e9), {}, "Gb/s")


CHECKS = [
    check_payload_of_a_2048_token_8b_prompt_is_256_mib,
    check_payload_is_linear_in_prompt,
    check_70b_carries_2_5x_the_payload_of_8b,
    check_the_penalty_is_rerun_per_model,
    check_transfer_over_200_gbps_is_about_11_ms,
    check_transfer_over_10gbe_is_about_215_ms,
    check_worst_itl_is_35_ms_under_25_ms_chunks,
    check_no_chunk_means_no_tax,
    check_penalty_under_6_percent_on_a_fast_fabric,
    check_penalty_over_100_percent_on_10gbe,
    check_verdict_split_pays_on_a_fast_fabric,
    check_verdict_link_too_slow_on_10gbe,
    check_verdict_no_interference_without_chunks,
    check_bad_tokens_are_rejected,
    check_bad_link_speeds_are_rejected,
    check_a_link_in_the_wrong_unit_is_rejected,
]
