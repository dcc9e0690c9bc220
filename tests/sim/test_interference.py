"""Reproduction: a decode stream's inter-token gaps while a long prompt arrives.

Claims and tolerances:
* chunked: every step that carries a chunk is slower than a clean step, each by the same
  amount within +-10% of their mean (the spread is the chunk's attention reaching further
  back into the prompt: 2048 tokens in 512-token chunks);
* the decode-only steps around them stay clean (within 2%);
* without chunking, one gap holds the whole prefill: it exceeds the whole-prompt step time;
* disaggregated, the stream never sees the prompt: its worst gap is within 5% of a clean step.
"""

import numpy as np
import pytest

from labs_py.sim.interference import interference_trace
from labs_py.steptime import chunk_attention_pairs, step_coefficients


def test_every_chunk_step_pays_the_same_tax():
    tr = interference_trace(batch=16, prompt_tokens=2048, chunk_tokens=512)
    extra = tr.extra_ms_per_chunk_step
    print(
        f"\nclean step {tr.clean_step_ms:.2f} ms; extra per chunk step (ms): {np.round(extra, 2)}"
    )
    assert len(extra) == 4  # 2048 / 512
    assert np.all(extra > 0.3 * tr.clean_step_ms)  # a real tax, not noise
    assert np.all(np.abs(extra / extra.mean() - 1) <= 0.10)
    # the gaps of the watched stream show the same plateau
    slow = tr.gap_ms > tr.clean_step_ms * 1.2
    assert slow.sum() == 4
    assert np.allclose(tr.gap_ms[slow], tr.clean_step_ms + extra, rtol=0.02)
    assert np.allclose(tr.gap_ms[~slow], tr.clean_step_ms, rtol=0.02)


def test_smaller_chunks_cap_the_gap_lower_but_spread_the_tax_over_more_steps():
    big = interference_trace(prompt_tokens=4096, chunk_tokens=1024)
    small = interference_trace(prompt_tokens=4096, chunk_tokens=256)
    assert small.gap_ms.max() < big.gap_ms.max()
    assert small.chunk_steps.sum() == 16 and big.chunk_steps.sum() == 4
    assert small.prompt_ttft_ms > big.prompt_ttft_ms  # the prompt itself waits longer


def test_without_chunking_one_gap_holds_the_whole_prefill():
    tr = interference_trace(batch=16, prompt_tokens=4096, chunk_tokens=None)
    whole = (
        step_coefficients("meta-llama/Llama-3.1-8B-Instruct").step_seconds(
            4096, chunk_attention_pairs(4096), 1, 0, 0
        )
        * 1e3
    )
    assert tr.gap_ms.max() == pytest.approx(tr.clean_step_ms + whole, rel=0.05)
    assert (tr.gap_ms > 1.2 * tr.clean_step_ms).sum() == 1


def test_disaggregated_stream_never_sees_the_prompt():
    tr = interference_trace(batch=16, prompt_tokens=4096, disaggregated=True)
    assert tr.gap_ms.max() <= 1.05 * tr.clean_step_ms
