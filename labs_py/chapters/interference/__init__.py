"""The chapter "Interference" (``notebooks/interference.ipynb``):
one decode stream while a long prompt arrives; where the slow gaps land.
"""
