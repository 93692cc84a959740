"""The benchmarks of ami, run as `python -m benchmarks.NAME` (see benchmarks/README.md)."""
