"""Speed and memory benchmarks, measured as ratios against a baseline run in the same process.

Run them all with ``python -m benchmarks`` (or one: ``python -m benchmarks hooks``). Figures and
the machine they were taken on are recorded in benchmarks/README.md.
"""
