"""The benchmark suite: ``python -m benchmarks [--quick] [--pg]`` (see ``__main__``)."""
