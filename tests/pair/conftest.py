"""Tests of labs_py.pair. All run in the book's light environment except those marked ``pair``."""

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "pair: needs the real vLLM pair environment (.venv-pair)"
    )


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path, monkeypatch):
    """Keep pid files and logs of launcher tests out of the repository's .pair/."""
    from labs_py.pair import launch

    monkeypatch.setattr(launch, "RUN_DIR", tmp_path / "run")
    monkeypatch.setattr(launch, "LOG_DIR", tmp_path / "logs")
    yield
