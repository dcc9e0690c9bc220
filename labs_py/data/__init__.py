"""The catalogs, as data: models, GPUs, links, the course's measurements, the step-time calibration.

Each entry cites its source.
"""
