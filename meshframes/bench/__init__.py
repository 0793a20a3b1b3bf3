"""Benchmarks: measurement only (clocks, runs, results as data). Every
benchmark reports a ratio against a baseline measured in the same run; its
tables, progress bars and pictures live in the CLI."""
