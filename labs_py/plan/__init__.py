"""Plan a deployment: the layout of a fleet (colocated or split, how many engines, what TP) for a question.

    python -m labs_py.plan --model meta-llama/Llama-3.1-8B-Instruct --gpu H100-SXM --gpus 8 \\
        --isl 2048 --osl 128 --ttft-ms 400 --tpot-ms 20 [--link-gbps 400] [--json]

* :mod:`~labs_py.plan.question`: the question (model, GPU, how many, lengths, SLOs, link);
* :mod:`~labs_py.plan.space`: every layout within the GPUs;
* :mod:`~labs_py.plan.screen`: stage 1, an analytic score of every layout (step times, queueing, the KV toll);
* :mod:`~labs_py.plan.search`: stage 2, the simulator on the best, the ranking and the verdict;
* :mod:`~labs_py.plan.device`: what the steps are priced on (a calibrated GPU, or the real pair's CPU);
* :mod:`~labs_py.plan.validation`: the planner's model against the real pair's captures, term by term.
"""

from labs_py.plan.device import GpuDevice
from labs_py.plan.question import Question
from labs_py.plan.search import Finalist, Result, plan
from labs_py.plan.space import Layout

__all__ = ["Question", "GpuDevice", "Layout", "Finalist", "Result", "plan"]
