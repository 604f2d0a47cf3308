"""Data tests on landed tables (issue 18): declared per table in `sources.toml`, run after each source lands,
kept in the read model, and turned into `suspect` flags on the metrics whose SQL reads a failing table."""

from heartbeat_core.datatests.run import TestResult, run_one_test, run_source_tests, store_results
from heartbeat_core.datatests.spec import TEST_NAMES, TestSpec, declared_tests

__all__ = [
    "TEST_NAMES",
    "TestResult",
    "TestSpec",
    "declared_tests",
    "run_one_test",
    "run_source_tests",
    "store_results",
]
