"""Benchmarks of Branch CRM (`make bench`); see bench/README.md."""
