"""The chapter "The disaggregation trade" (``notebooks/disaggregation_trade.ipynb``):
lab 15-03: both ledgers, the three verdicts, the decision map.
"""
