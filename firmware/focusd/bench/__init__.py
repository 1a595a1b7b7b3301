"""``focusd bench``: focusd's autofocus against the stock and reference baselines, on the very
same simulated (or recorded) frames. See focusd.bench.runner for how a trial runs, focusd.bench.suite
for what runs, focusd.bench.metrics for the figures, report and plot for the output."""
