"""Exercises of the serving chapters: "Interference", "Goodput and the P:D split", "Two GPUs".

Every expected answer is computed by the simulator (seeded, so deterministic); nothing is typed in.
"""

from dataclasses import replace

from labs_py.exercises import Exercise, register
from labs_py.models import get_model
from labs_py.sim import SLO, Colocated, Disaggregated, Scenario, goodput, max_throughput_rps, split_search
from labs_py.sim.fleets import engine_with_allreduce
from labs_py.steptime import DEFAULT_ENGINE, engine_profile, step_coefficients
from labs_py.viz import serving as viz

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
#: The chapters' workload for goodput searches: 1,024-token prompts, 128-token outputs, 400 Poisson requests.
CHAT = Scenario(model=LLAMA_8B, prompt_tokens=1024, output_tokens=128, n_requests=400)
#: Chunk sizes the interference exercise chooses from.
CHUNK_CHOICES = (128, 256, 512, 1024, 2048)


# --------------------------------------------------------------------------- chapter: interference
register(Exercise(
    id="interf-extra-per-chunk",
    question=("16 streams decoding, an 8,192-token prompt arriving in 1,024-token chunks: by how many ms is each "
              "chunk-carrying step slower than a clean decode step, on average?"),
    expected=lambda: viz.interference_readout(1024, 8192, 16)["extra_ms_per_chunk_step"],
    unit="ms",
    rel_tol=0.03,
    hint="The mean of interference_trace(...).extra_ms_per_chunk_step.",
))


def best_chunk_under(worst_gap_ms: float, prompt_tokens: int = 4096, batch: int = 16) -> int:
    """The chunk size of CHUNK_CHOICES with the shortest prompt TTFT whose worst gap stays under ``worst_gap_ms``."""
    ok = [(viz.interference_readout(c, prompt_tokens, batch)["prompt_ttft_ms"], c) for c in CHUNK_CHOICES
          if viz.interference_readout(c, prompt_tokens, batch)["worst_gap_ms"] < worst_gap_ms]
    if not ok:
        raise ValueError(f"no chunk size in {CHUNK_CHOICES} keeps every gap under {worst_gap_ms} ms")
    return min(ok)[1]


register(Exercise(
    id="interf-best-chunk",
    question=("16 streams, a 4,096-token prompt: which chunk size (128, 256, 512, 1,024 or 2,048 tokens) keeps every "
              "gap of the streams under 20 ms with the shortest TTFT for the prompt?"),
    expected=lambda: best_chunk_under(20.0),
    unit="tokens",
    rel_tol=0.0,
    hint="viz.interference_readout(chunk, 4096, 16) for each chunk size.",
))

register(Exercise(
    id="interf-gap-share",
    question=("Two colocated replicas with 512-token chunks, 1,024-token prompts, 128-token outputs, 16 requests per "
              "second: what fraction of all inter-token gaps carry prefill work?"),
    expected=lambda: viz.itl_tail_readout(16.0, 512)["2x colocated (chunk 512)"]["prefill_gap_share"],
    unit="(fraction of gaps)",
    rel_tol=0.02,
    hint="prefill_gap_share of a run(..., record_steps=True).",
))


# --------------------------------------------------------------------------- chapter: goodput and the split
register(Exercise(
    id="goodput-1p1d-25g",
    question=("1P1D over a 25 Gb/s link, the chapter's chat workload, SLOs TTFT <= 400 ms and mean TPOT <= 13 ms: "
              "what is its goodput, in requests per second?"),
    expected=lambda: goodput(Disaggregated(1, 1, 25.0), CHAT, SLO(0.4, 0.013)),
    unit="req/s",
    rel_tol=0.03,
    hint="goodput(fleet, CHAT, slo), with SLO times in seconds.",
))


def best_split_label(gpus: int, prompt_tokens: int, output_tokens: int, slo: SLO) -> str:
    """The best xPyD of ``gpus`` GPUs for a workload (400 Poisson requests), as ``"2P1D"``."""
    sc = replace(CHAT, prompt_tokens=prompt_tokens, output_tokens=output_tokens)
    x, y = split_search(gpus, sc, slo).best
    return f"{x}P{y}D"


register(Exercise(
    id="goodput-best-split-long-prompts",
    question=("Three GPUs, 4,096-token prompts and 32-token outputs, SLOs TTFT <= 400 ms and mean TPOT <= 12 ms: "
              "which split has the most goodput? Answer as a string such as \"1P2D\"."),
    expected=lambda: best_split_label(3, 4096, 32, SLO(0.4, 0.012)),
    unit="(split)",
    hint="split_search(3, scenario, slo).best is (prefill, decode).",
))

register(Exercise(
    id="goodput-throughput-ratio-2048",
    question=("2,048-token prompts and 256-token outputs on two GPUs: by what factor does the throughput of two "
              "chunked colocated replicas exceed that of 1P1D?"),
    expected=lambda: (max_throughput_rps(Colocated(2, chunk_tokens=512), replace(CHAT, prompt_tokens=2048,
                                                                                 output_tokens=256))
                      / max_throughput_rps(Disaggregated(1, 1, 200.0), replace(CHAT, prompt_tokens=2048,
                                                                                output_tokens=256))),
    unit="(ratio)",
    rel_tol=0.005,
    hint="max_throughput_rps of each fleet, on the new scenario.",
))


# --------------------------------------------------------------------------- chapter: two GPUs
register(Exercise(
    id="two-gpu-allreduce-ms",
    question=("Llama-3.1-8B at TP=2 under the default engine profile: how many milliseconds of every step are the "
              "fixed latencies of its all-reduces?"),
    expected=lambda: 2 * get_model(LLAMA_8B).num_hidden_layers * engine_profile(DEFAULT_ENGINE).allreduce_latency_s * 1e3,
    unit="ms",
    rel_tol=0.01,
    hint="Two all-reduces per layer, each allreduce_latency_s.",
))

register(Exercise(
    id="two-gpu-free-speedup",
    question=("If all-reduces cost only their bytes (no fixed latency), how many times faster is a TP=2 decode step "
              "than a TP=1 step, at batch 16 with 512 tokens of context each?"),
    expected=lambda: (step_coefficients(LLAMA_8B).decode_seconds(16, 512)
                      / step_coefficients(LLAMA_8B, tp=2, engine=engine_with_allreduce(DEFAULT_ENGINE, 0.0))
                      .decode_seconds(16, 512)),
    unit="(ratio)",
    rel_tol=0.01,
    hint="decode_seconds(16, 512) of both; engine=FREE for TP=2.",
))

register(Exercise(
    id="two-gpu-tp2-throughput-share",
    question=("With the fitted all-reduce latency, what fraction of two colocated replicas' throughput does one TP=2 "
              "engine reach on the chat workload?"),
    expected=lambda: max_throughput_rps(Colocated(1, tp=2, chunk_tokens=512), CHAT)
    / max_throughput_rps(Colocated(2, chunk_tokens=512), CHAT),
    unit="(fraction)",
    rel_tol=0.01,
    hint="A ratio of two max_throughput_rps.",
))
