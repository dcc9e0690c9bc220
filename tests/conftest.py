"""Test-wide settings."""

import os

# Live panels prefetch their combinations in a background thread for a reader; tests build many
# panels and want none of that work (the tests of prefetching turn it on explicitly).
os.environ.setdefault("LABS_PY_PREFETCH", "0")
