"""The book's defaults, and the catalog entries it names most: each one written here and nowhere else.

Chapters and modules import these names instead of typing a model id or a GPU
name. The entries themselves (shapes, roofs, sources) live in the catalogs under
``labs_py/data``; this module only names the ones the book reaches for.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- models (Hugging Face repo ids)
QWEN25_05B = "Qwen/Qwen2.5-0.5B-Instruct"  #: the model of lab 15-02's 2xL4 capture
QWEN25_7B = "Qwen/Qwen2.5-7B-Instruct"
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"  #: the course's running example
LLAMA_70B = "meta-llama/Llama-3.1-70B-Instruct"
LLAMA_405B = "meta-llama/Llama-3.1-405B"
MIXTRAL_8X7B = "mistralai/Mixtral-8x7B-v0.1"
QWEN3_32B = "Qwen/Qwen3-32B"
DEEPSEEK_V3 = "deepseek-ai/DeepSeek-V3"
OPT_13B = "facebook/opt-13b"  #: DistServe's example model
OPT_66B = "facebook/opt-66b"

# --------------------------------------------------------------------------- GPUs (catalog ids)
H100_SXM = "H100-SXM"
H100_PCIE = "H100-PCIe"
H200 = "H200"
A100_SXM = "A100-SXM"
A100_PCIE = (
    "A100-PCIe"  #: the Week 16 lab's A100 rows ran on two of these, bridged with NVLink
)
L4 = "L4"

# --------------------------------------------------------------------------- what the book uses unless told otherwise
#: The model every chapter starts from.
DEFAULT_MODEL = LLAMA_8B
#: The GPU every chapter starts from.
DEFAULT_GPU = H100_SXM
#: The serving engine whose step times the book uses: vLLM, calibrated per GPU (``labs_py/data/calibration.json``).
DEFAULT_ENGINE = "vllm"
