"""The chapter "Moving a live request" (``notebooks/moving_a_live_request.ipynb``):
lab 15-01: export, import, the two recovery strategies, the 1P:2D router.
"""
