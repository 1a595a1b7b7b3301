"""``python -m focusd.af``: the focus measure's cost per frame (see focusd.af.measure)."""

from focusd.af.measure import print_cost

print_cost()
