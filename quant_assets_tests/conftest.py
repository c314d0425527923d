"""Shared test set-up.

The whole suite runs with the host time zone set to America/New_York: partition
slices, timestamps and DuckDB writes must not depend on the machine's zone.
"""

import os
import time

os.environ["TZ"] = "America/New_York"
time.tzset()
