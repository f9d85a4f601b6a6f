"""`python -m tracer.bench`: see tracer/bench/cli.py, or run with --help."""

from tracer.bench.cli import main

raise SystemExit(main())
