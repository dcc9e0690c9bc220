"""Reproductions of the course labs' qualitative results, and of both truths of the issue.

Scenario: Llama-3.1-8B on H100s, 1024-token prompts, 128-token outputs, Poisson arrivals,
2 GPUs: two chunked colocated replicas (chunk 512) against 1P1D.

Under the calibrated step model a clean decode step here is about 7.5 ms and a step that
carries a 512-token chunk about 13 ms, so "tight" means a TPOT SLO of 9 ms or a per-token
SLO of 12 ms: between the two. (Before the recalibration of issue 11, the model's steps were
slower, and 13 ms / 15 ms were tight; the verdicts are the same, at the new thresholds.)

Lab 15-02's capture (2x L4): disaggregation takes ITL p99 from 38.4 to 12.1 ms while p50
stays at ~11 ms, and TTFT goes from 192 to 211 ms. Tolerances are qualitative and stated
in each assertion: "collapses" = p99/p50 below 1.10 (from above 1.5); "barely moves" = p50
within 10%.
"""

import numpy as np
import pytest

from labs_py.sim.fleets import Colocated, Disaggregated
from labs_py.sim.goodput import SLO, goodput, max_throughput_rps, run

COLO = Colocated(2, chunk_tokens=512)
STALLING = Colocated(2, chunk_tokens=None)
PD = Disaggregated(1, 1, link_gbps=200)
RATE = 6.0  # requests/s: a loaded but stable fleet
TPOT_TIGHT = SLO(ttft_s=0.4, decode_s=0.009, decode_metric="tpot")
PER_TOKEN = SLO(ttft_s=0.25, decode_s=0.012, decode_metric="max_itl")


def test_disaggregation_collapses_itl_p99_toward_p50_while_p50_barely_moves(chat):
    colo, pd = run(COLO, chat, RATE), run(PD, chat, RATE)
    c50, c99 = colo.percentile_ms("itl", 50), colo.percentile_ms("itl", 99)
    p50, p99 = pd.percentile_ms("itl", 50), pd.percentile_ms("itl", 99)
    print(f"\nITL p50/p99 ms: colocated {c50:.1f}/{c99:.1f}, 1P1D {p50:.1f}/{p99:.1f}")
    assert c99 / c50 > 1.5
    assert p99 / p50 < 1.10
    assert p50 == pytest.approx(c50, rel=0.10)


def test_ttft_pays_the_toll_with_vllms_proxy_and_the_second_token_pays_it_when_prefill_streams(
    chat,
):
    slow = 25.0  # Gb/s: a 128 MiB prompt KV takes ~43 ms
    colo = run(COLO, chat, RATE)
    vllm_proxy = run(Disaggregated(1, 1, slow, "ttft_on_decode"), chat, RATE)
    streamed = run(Disaggregated(1, 1, slow, "first_token_from_prefill"), chat, RATE)
    toll_ms = float(np.median(vllm_proxy.raw.transfer_s)) * 1e3
    print(
        f"\ntoll {toll_ms:.1f} ms; TTFT p50 colocated {colo.percentile_ms('ttft', 50):.1f}, "
        f"vLLM proxy {vllm_proxy.percentile_ms('ttft', 50):.1f}, streamed {streamed.percentile_ms('ttft', 50):.1f}; "
        f"2nd-token gap p50 vLLM proxy {vllm_proxy.percentile_ms('second_token_gap', 50):.1f}, "
        f"streamed {streamed.percentile_ms('second_token_gap', 50):.1f}"
    )
    assert (
        vllm_proxy.percentile_ms("ttft", 50)
        > colo.percentile_ms("ttft", 50) + 0.8 * toll_ms
    )
    assert (
        streamed.percentile_ms("ttft", 50)
        < vllm_proxy.percentile_ms("ttft", 50) - 0.8 * toll_ms
    )
    assert streamed.percentile_ms("second_token_gap", 50) > 0.8 * toll_ms
    assert vllm_proxy.percentile_ms("second_token_gap", 50) < 0.5 * toll_ms


def test_the_verdict_flips_with_the_link(chat):
    slo = TPOT_TIGHT
    colo = goodput(COLO, chat, slo)
    fast = goodput(Disaggregated(1, 1, 200), chat, slo)
    slow = goodput(Disaggregated(1, 1, 10), chat, slo)
    print(
        f"\ngoodput /s: colocated {colo:.2f}, 1P1D@200 Gb/s {fast:.2f}, 1P1D@10 Gb/s {slow:.2f}"
    )
    assert fast > 1.2 * colo > 1.2 * slow


def test_tight_slo_regime_disaggregation_wins_goodput(chat):
    # every token within 12 ms: any chunk-carrying step (about 13 ms) breaks it
    colo, pd = goodput(COLO, chat, PER_TOKEN), goodput(PD, chat, PER_TOKEN)
    print(f"\ntight SLO goodput /s: colocated {colo:.2f}, 1P1D {pd:.2f}")
    assert pd > 5 * colo


def test_throughput_regime_stall_free_colocated_wins(chat):
    colo, pd = max_throughput_rps(COLO, chat), max_throughput_rps(PD, chat)
    print(
        f"\nthroughput /s: colocated {colo:.2f}, 1P1D {pd:.2f}: colocated {colo / pd:.2f}x"
    )
    # the book's own figure (chapter "Goodput and the P:D split", the throughput table): 1.36x,
    # computed when the step model was last calibrated; a recalibration that moves it fails here
    assert colo / pd == pytest.approx(1.36, rel=0.03)


def test_which_baseline_and_which_metric_flip_the_verdict(chat):
    """Against a stalling baseline (no chunking) disaggregation wins even on mean TPOT;
    against the stall-free baseline it wins on TPOT only when the TPOT SLO is tight, and loses
    on throughput. Judged per token (max ITL), the stall-free baseline loses too."""
    tpot_tight = TPOT_TIGHT
    loose = SLO(ttft_s=2.0, decode_s=0.2, decode_metric="tpot")
    per_token = PER_TOKEN
    g = {
        (f.label, s): goodput(f, chat, slo)
        for f in (COLO, STALLING, PD)
        for s, slo in (("tpot", tpot_tight), ("loose", loose), ("max_itl", per_token))
    }
    for k, v in sorted(g.items()):
        print(f"{k}: {v:.2f}/s")
    assert g[(PD.label, "tpot")] > g[(STALLING.label, "tpot")]
    assert g[(PD.label, "tpot")] > g[(COLO.label, "tpot")]
    assert g[(COLO.label, "loose")] > g[(PD.label, "loose")]
    assert g[(PD.label, "max_itl")] > 5 * g[(COLO.label, "max_itl")]
