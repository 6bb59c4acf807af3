"""Scripts that measure, run on purpose (``make bench``), never as tests; a package so
they can share :mod:`benchmarks.scratch`."""
