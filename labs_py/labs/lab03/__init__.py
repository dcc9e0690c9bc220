"""Lab 03, the disaggregation trade: price both ledgers and decide when the split pays."""
