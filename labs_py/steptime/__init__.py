"""How long one engine step takes: a transformer's arithmetic, priced on a GPU by a calibrated engine.

* :mod:`~labs_py.steptime.transformer`: the FLOPs and bytes of a step (no GPU, no engine);
* :mod:`~labs_py.steptime.placement`: which tensor-parallel degrees split a model evenly and fit it;
* :mod:`~labs_py.steptime.model`: the step's seconds, in five parts (GEMMs, attention, small ops,
  all-reduce, host), under an :class:`EngineProfile` of one engine on one GPU;
* :mod:`~labs_py.steptime.reference`: the reference step times the profiles are fitted on and held out from;
* :mod:`~labs_py.steptime.course_runs`: the course's serving runs, predicted from the step model;
* :mod:`~labs_py.steptime.fit`: the fits (``python -m labs_py.steptime fit``);
* :mod:`~labs_py.steptime.validation`: every measured point beside its prediction
  (``python -m labs_py.steptime validate``).

The names below are the ones chapters use.
"""

from labs_py.steptime.model import (
    IDEAL_BANDWIDTH_EFFICIENCY,
    IDEAL_COMPUTE_EFFICIENCY,
    ROOFLINE,
    AllReduce,
    EngineProfile,
    StepCoefficients,
    decode_step_seconds,
    engine_names,
    engine_profile,
    prefill_seconds,
    step_coefficients,
)
from labs_py.steptime.pipeline import (
    PipelineStep,
    bubble_fraction,
    pipeline_decode_step,
)
from labs_py.steptime.placement import fitting_tp, smallest_tp
from labs_py.steptime.transformer import (
    arithmetic_intensity,
    attention_flops,
    chunk_attention_pairs,
    decode_bytes_read,
    prefill_flops,
    step_flops_and_bytes,
    weight_bytes,
)

__all__ = [
    "PipelineStep",
    "bubble_fraction",
    "pipeline_decode_step",
    "IDEAL_BANDWIDTH_EFFICIENCY",
    "IDEAL_COMPUTE_EFFICIENCY",
    "ROOFLINE",
    "AllReduce",
    "EngineProfile",
    "StepCoefficients",
    "decode_step_seconds",
    "engine_names",
    "engine_profile",
    "prefill_seconds",
    "step_coefficients",
    "fitting_tp",
    "smallest_tp",
    "arithmetic_intensity",
    "attention_flops",
    "chunk_attention_pairs",
    "decode_bytes_read",
    "prefill_flops",
    "step_flops_and_bytes",
    "weight_bytes",
]
