"""Exercises of the chapter "The disaggregation trade"."""

from labs_py import economics as econ
from labs_py.exercises import Exercise, register
from labs_py.models import kv_bytes_per_token

register(Exercise(
    id="econ-qwen3-fp8-payload",
    question="How many MiB of KV cache does a 4,096-token prompt leave behind in Qwen3-32B with an FP8 KV cache?",
    expected=lambda: econ.kv_payload_bytes(4096, kv_bytes_per_token("Qwen/Qwen3-32B", "fp8")) / 2**20,
    unit="MiB",
    hint="Use kv_bytes_per_token(model, kv_dtype='fp8') and kv_payload_bytes; 1 MiB = 2**20 bytes.",
))

register(Exercise(
    id="econ-70b-breakeven",
    question=("Llama-3.1-70B, a 2,048-token prompt, 205 ms of prefill: what is the slowest link, in Gb/s, "
              "that keeps the transfer toll within 10% of prefill?"),
    expected=lambda: econ.breakeven_link_gbps(
        econ.kv_payload_bytes(2048, kv_bytes_per_token("meta-llama/Llama-3.1-70B-Instruct")), 0.205, 0.10),
    unit="Gb/s",
    hint="Solve payload * 8 / (gbps * 1e9) = 0.10 * 0.205 for gbps.",
))

register(Exercise(
    id="econ-25gbe-overlap",
    question=("Llama-3.1-8B, 2,048 tokens, 205 ms of prefill, 25 GbE: what fraction of the prefill must the "
              "transfer overlap so that the exposed toll is 10% of prefill?"),
    expected=lambda: econ.overlap_needed(econ.transfer_seconds(256 * 2**20, 25), 0.205, 0.10),
    unit="(fraction of prefill)",
    hint="The exposed toll is transfer - overlap * prefill.",
))
