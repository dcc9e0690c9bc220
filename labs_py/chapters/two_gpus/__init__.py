"""The chapter "Two GPUs" (``notebooks/two_gpus.ipynb``):
1P1D against TP=2 against two replicas.
"""
