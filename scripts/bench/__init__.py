"""Benchmarks, and the gateway harness the integration tests share."""
