"""Parses a metrics scrape with the Prometheus project's Python client (tests/metrics.rs).

Reads the scrape from standard input and writes its families as JSON to standard output:
[{"name", "type", "samples": [{"name", "labels", "value"}]}]. The argument names the format:
`prometheus` (text 0.0.4, prometheus_client.parser) or `openmetrics`
(prometheus_client.openmetrics.parser). A scrape either parser refuses exits non-zero with the
parser's error.
"""

import json
import math
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("prometheus", "openmetrics"):
        print("usage: metrics_parse.py prometheus|openmetrics < scrape", file=sys.stderr)
        return 2
    parse = text_families if sys.argv[1] == "prometheus" else openmetrics_families
    text = sys.stdin.read()
    families = []
    for family in parse(text):
        families.append(
            {
                "name": family.name,
                "type": family.type,
                "samples": [
                    {
                        "name": s.name,
                        "labels": dict(s.labels),
                        "value": s.value if math.isfinite(s.value) else str(s.value),
                    }
                    for s in family.samples
                ],
            }
        )
    json.dump(families, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
