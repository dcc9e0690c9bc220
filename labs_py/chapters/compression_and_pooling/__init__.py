"""The chapter "KV compression and pooled KV" (``notebooks/compression_and_pooling.ipynb``):
GQA, MLA and FP8 move the break-even link; fetch or recompute.
"""
