"""The chapter "Goodput and the P:D split" (``notebooks/goodput_and_split.ipynb``):
DistServe's goodput, the SLO that picks the winner, the xPyD search.
"""
