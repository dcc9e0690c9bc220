"""labs_py: the importable logic behind the textbook on disaggregated prefill/decode serving.

Every number the book prints is computed here (or cited in a data file here).
The notebooks only import, call and plot.
"""

__version__ = "0.1.0"
