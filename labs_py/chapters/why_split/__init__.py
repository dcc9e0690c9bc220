"""The chapter "Why split prefill from decode" (``notebooks/why_split.ipynb``):
the roofline, continuous batching, the first look at interference.
"""
