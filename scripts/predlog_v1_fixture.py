"""Writes tests/fixtures/predlog/: a prediction log as mlcycle wrote it before class
probabilities were logged (binary frames with magic MLP\\x01 only, JSON lines without a
`probabilities` member), built from the documented layout, independently of the Rust code.

    python3 scripts/predlog_v1_fixture.py
"""
import json
import math
import os
import struct
import zlib
from datetime import datetime, timezone

ROOT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "predlog")

RECORDS = [
    # request id, second in the hour, version, latency, rows, outputs, error
    ("old-1", 1, 3, 120, [[1.5, math.nan]], [1.0], None),
    ("old-2", 2, 3, 95, [[0.25], [2.0, -3.0]], [0.0, 1.0], None),
    ("old-3", 3, 3, 40, [[4.0, 5.0]], [], "unknown level `x` in column `plan`"),
]


def frame(at, rid, version, latency, rows, outputs, error):
    width = len(rows[0]) if rows else 0
    ragged = any(len(r) != width for r in rows)
    rid_b, name_b = rid.encode(), b"churn"
    err_b = error.encode() if error is not None else b""
    p = struct.pack("<qIIQ", int(at.timestamp()), 0, version, latency)
    p += struct.pack(
        "<IIIIII",
        len(rows),
        0xFFFFFFFF if ragged else width,
        len(outputs),
        len(rid_b),
        len(name_b),
        len(err_b) if error is not None else 0xFFFFFFFF,
    )
    p += rid_b + name_b + err_b
    if ragged:
        p += b"".join(struct.pack("<I", len(r)) for r in rows)
    for r in rows:
        p += b"".join(struct.pack("<d", v) for v in r)
    p += b"".join(struct.pack("<d", v) for v in outputs)
    return b"MLP\x01" + struct.pack("<II", len(p), zlib.crc32(p)) + p


def line(at, rid, version, latency, rows, outputs, error):
    nan = lambda v: None if math.isnan(v) else v
    return json.dumps(
        {
            "request_id": rid,
            "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model_name": "churn",
            "model_version": version,
            "inputs": [[nan(v) for v in r] for r in rows],
            "outputs": outputs,
            "latency_us": latency,
            "error": error,
        },
        separators=(",", ":"),
    )


def main():
    day = os.path.join(ROOT, "2026", "03", "01")
    os.makedirs(day, exist_ok=True)
    with open(os.path.join(day, "12.predlog"), "wb") as f:
        for rid, s, *rest in RECORDS:
            f.write(frame(datetime(2026, 3, 1, 12, 0, s, tzinfo=timezone.utc), rid, *rest))
    with open(os.path.join(day, "13.jsonl"), "w") as f:
        for rid, s, *rest in RECORDS:
            at = datetime(2026, 3, 1, 13, 0, s, tzinfo=timezone.utc)
            f.write(line(at, rid + "-json", *rest) + "\n")


if __name__ == "__main__":
    main()
