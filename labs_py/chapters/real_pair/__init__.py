"""The chapter "Stand up a real prefill/decode pair" (``notebooks/real_pair.ipynb``):
lab 15-02: the real vLLM pair's captures, reconciled with the models.
"""
