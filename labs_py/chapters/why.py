"""Exercises of the opening chapter, "Why split prefill from decode"."""

from labs_py.exercises import Exercise, register
from labs_py.roofline import min_compute_bound_tokens
from labs_py.steptime import arithmetic_intensity
from labs_py.widgets.why import batching_schedule

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"

register(Exercise(
    id="why-decode-intensity",
    question="Arithmetic intensity of a decode step of 32 requests with 1,024 tokens of context each, Llama-3.1-8B?",
    expected=lambda: arithmetic_intensity(LLAMA_8B, 32, 1024),
    unit="FLOP/byte",
    hint="labs_py.steptime.arithmetic_intensity(model, tokens_per_step, context_tokens).",
))

register(Exercise(
    id="why-compute-bound-prompt",
    question="The shortest prompt whose prefill step is compute-bound for Llama-3.1-8B on an H100 SXM?",
    expected=lambda: min_compute_bound_tokens(LLAMA_8B, "H100-SXM"),
    unit="tokens",
    rel_tol=0.0,
    hint="Find the first tokens-per-step whose intensity reaches the GPU's ridge_flops_per_byte.",
))

register(Exercise(
    id="why-chunk-steps",
    question="With 512-token chunks, how many engine steps carry part of request E's 2,048-token prefill?",
    expected=lambda: sum("E (long)" in s.prefill for s in batching_schedule(512)),
    unit="steps",
    rel_tol=0.0,
    hint="Count the steps of labs_py.widgets.why.batching_schedule(512) whose .prefill contains 'E (long)'.",
))
