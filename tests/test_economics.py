"""The chapter's going-further functions: overlap, sweep, queueing, boundary, per-class decisions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labs_py import economics as econ
from labs_py.models import kv_bytes_per_token

MIB = 2**20
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def test_the_library_and_the_labs_reference_agree_but_are_separate():
    """The chapters compute with labs_py.economics; the lab's solution is written apart, for learners.
    Simplifying the solution must never change the book's numbers, so they are two functions that agree."""
    from labs_py.labs.lab03 import solution

    for name in (
        "kv_payload_bytes",
        "transfer_seconds",
        "colocated_itl_worst",
        "disagg_ttft_penalty",
        "disagg_wins",
    ):
        assert getattr(econ, name) is not getattr(solution, name)
    for tokens, per_token, gbps in (
        (1, 1, 0.1),
        (2048, 131072, 200),
        (32768, 327680, 3600),
        (777, 65536, 25),
    ):
        payload = econ.kv_payload_bytes(tokens, per_token)
        assert payload == solution.kv_payload_bytes(tokens, per_token)
        assert econ.transfer_seconds(payload, gbps) == solution.transfer_seconds(
            payload, gbps
        )
        for chunk in (0.0, 0.025):
            args = dict(
                prompt_tokens=tokens,
                kv_bytes_per_token=per_token,
                link_gbps=gbps,
                prefill_s=0.2,
                decode_step_s=0.01,
                chunk_s=chunk,
            )
            assert econ.disagg_wins(**args) == solution.disagg_wins(**args)


def test_overlap_that_makes_25gbe_viable_for_2048_tokens():
    t = econ.transfer_seconds(256 * MIB, 25)  # 85.9 ms
    need = econ.overlap_needed(t, 0.205, 0.10)
    assert need == pytest.approx((t - 0.0205) / 0.205)
    assert 0.31 < need < 0.33
    assert econ.effective_transfer(t, 0.205, need) == pytest.approx(0.0205)


def test_10gbe_needs_almost_full_overlap_and_a_tight_budget_is_impossible():
    t = econ.transfer_seconds(256 * MIB, 10)  # 214.7 ms behind 205 ms of prefill
    assert econ.overlap_needed(t, 0.205, 0.10) == pytest.approx(0.9476, abs=1e-4)
    assert (
        econ.overlap_needed(t, 0.205, 0.03) > 1.0
    )  # not even full overlap hides enough


@given(st.floats(0, 10), st.floats(1e-3, 10), st.floats(0, 1))
def test_exposed_transfer_is_between_zero_and_the_whole_toll(t, p, f):
    e = econ.effective_transfer(t, p, f)
    assert 0.0 <= e <= t


def test_linear_prefill_gives_a_flat_penalty_from_128_to_32k():
    sweep = econ.ledger_sweep(LLAMA_8B, 200, prefill_tokens_per_s=2048 / 0.205)
    assert sweep["prompt_tokens"][0] == 128 and sweep["prompt_tokens"][-1] == 32768
    assert np.allclose(sweep["ttft_penalty"], sweep["ttft_penalty"][0])
    assert sweep["ttft_penalty"][0] == pytest.approx(
        econ.transfer_seconds(256 * MIB, 200) / 0.205
    )


def test_step_time_prefill_makes_the_penalty_rise_then_fall():
    # fixed costs make short prefills relatively slow (a low penalty); attention's square makes
    # long ones relatively slow too: the toll, linear in the prompt, peaks in between
    sweep = econ.ledger_sweep(LLAMA_8B, 200)
    pen, n = sweep["ttft_penalty"], sweep["prompt_tokens"]
    peak = int(np.argmax(pen))
    assert 1024 <= n[peak] <= 4096
    assert np.all(np.diff(pen[: peak + 1]) > 0) and np.all(np.diff(pen[peak:]) < 0)


def test_step_times_are_one_source_and_price_70b_on_the_gpus_that_hold_it():
    st = econ.step_times("meta-llama/Llama-3.1-70B-Instruct", 2048)
    assert st.tp == 2
    assert st.prefill_s > st.chunk_s > 0 and st.decode_step_s > 0
    assert st.client_ttft_s == pytest.approx(st.client_overhead_s + st.prefill_s)
    with pytest.raises(ValueError, match="does not fit on 1 x H100-SXM"):
        econ.step_times("meta-llama/Llama-3.1-70B-Instruct", 2048, tp=1)
    led = econ.ledgers(LLAMA_8B, 2048, 200)
    s8 = econ.step_times(LLAMA_8B, 2048)
    assert (led.prefill_s, led.decode_step_s, led.chunk_s) == (
        s8.prefill_s,
        s8.decode_step_s,
        s8.chunk_s,
    )
    assert led.client_ttft_penalty < led.ttft_penalty


def test_md1_wait_is_half_of_mm1_and_explodes_near_saturation():
    d = 0.2
    assert econ.prefill_queue_wait_s(d, 0.5) == pytest.approx(0.5 * d / (2 * 0.5))
    assert econ.prefill_queue_wait_s(d, 0.5, "M/M/1") == pytest.approx(
        2 * econ.prefill_queue_wait_s(d, 0.5)
    )
    assert econ.prefill_queue_wait_s(d, 0.0) == 0.0
    assert econ.prefill_queue_wait_s(d, 0.99) > 40 * d
    with pytest.raises(ValueError, match="utilisation.*1"):
        econ.prefill_queue_wait_s(d, 1.0)


def test_fp8_halves_the_breakeven_link_and_mla_beats_gqa():
    pre = 0.205
    bf16 = econ.breakeven_link_gbps(
        econ.kv_payload_bytes(2048, kv_bytes_per_token(LLAMA_8B)), pre, 0.10
    )
    fp8 = econ.breakeven_link_gbps(
        econ.kv_payload_bytes(2048, kv_bytes_per_token(LLAMA_8B, "fp8")), pre, 0.10
    )
    assert fp8 == pytest.approx(bf16 / 2)
    # at the breakeven speed the penalty is exactly the budget
    t = econ.transfer_seconds(256 * MIB, bf16)
    assert econ.disagg_ttft_penalty(t, pre) == pytest.approx(0.10)
    assert (
        kv_bytes_per_token("deepseek-ai/DeepSeek-V3")
        < kv_bytes_per_token("meta-llama/Llama-3.1-70B-Instruct") / 4
    )


def test_decision_per_class_can_differ():
    classes = [
        econ.RequestClass(
            "classify", prompt_tokens=512, output_tokens=1, max_ttft_penalty=0.10
        ),
        econ.RequestClass(
            "chat", prompt_tokens=1024, output_tokens=256, max_ttft_penalty=0.10
        ),
        econ.RequestClass(
            "summarise", prompt_tokens=16384, output_tokens=512, max_ttft_penalty=0.50
        ),
    ]
    verdicts = econ.decide_per_class(
        classes, LLAMA_8B, 100, decode_step_s=0.010, chunk_s=0.025
    )
    assert verdicts["classify"].reason == econ.NO_INTERFERENCE
    assert verdicts["chat"].reason == econ.LINK_TOO_SLOW
    assert verdicts["summarise"].reason == econ.SPLIT_PAYS


def test_ledgers_uses_the_step_time_model_unless_given():
    led = econ.ledgers(
        LLAMA_8B, 2048, 200, decode_step_s=0.010, chunk_s=0.025, prefill_s=0.205
    )
    assert led.payload_bytes == 256 * MIB and led.tax_per_token_s == pytest.approx(
        0.025
    )
    assert led.chunks_per_prompt == 9  # 205 ms of prefill in 25 ms chunks
    from labs_py.steptime import prefill_seconds

    led2 = econ.ledgers(LLAMA_8B, 2048, 200, decode_step_s=0.010, chunk_s=0.025)
    assert led2.prefill_s == prefill_seconds(LLAMA_8B, 2048)
    assert (
        led.client_overhead_s == 0.0
    )  # the lab's hand-given example has no client overhead
