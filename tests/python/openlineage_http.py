"""Sends OpenLineage events to a server through the real `openlineage-python`
client's HTTP transport, as Airflow, Spark or dbt integrations would: each
JSON line of EVENTS.jsonl becomes the client's own event object
(`openlineage_reemit.event`) and is emitted to URL (`POST URL/api/v1/lineage`,
`Authorization: Bearer TOKEN`, gzip when COMPRESSION is `gzip`).

    python openlineage_http.py URL TOKEN EVENTS.jsonl [gzip]

Exits 1, naming the line, when the transport fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport
from openlineage_reemit import event


def main() -> int:
    url, token, events = sys.argv[1], sys.argv[2], sys.argv[3]
    compression = HttpCompression.GZIP if len(sys.argv) > 4 and sys.argv[4] == "gzip" else None
    config = HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": token}), compression=compression)
    transport = HttpTransport(config)
    with open(events, encoding="utf-8") as lines:
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                transport.emit(event(json.loads(line)))
            except Exception as error:
                print(f"{events}:{n}: the HTTP transport failed: {error!r}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
