#!/usr/bin/env python3
"""etl_peer.py FILE - count the records of an ETL file with the airbus-cert
etl-parser (pure Python, /work/peers/etl-parser), for bench/etl. Prints
"records N" or the exception that stopped it."""
import sys
import time

sys.path.insert(0, "/work/peers/etl-parser")
from etl.etl import IEtlFileObserver, build_from_stream  # noqa: E402


class Count(IEtlFileObserver):
    def __init__(self):
        self.n = 0

    def on_event_record(self, event):
        self.n += 1

    def on_trace_record(self, event):
        self.n += 1

    def on_perfinfo_trace(self, obj):
        self.n += 1

    def on_system_trace(self, obj):
        self.n += 1

    def on_win_trace(self, obj):
        self.n += 1


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    c = Count()
    t0 = time.perf_counter()
    try:
        build_from_stream(data).parse(c)
    except Exception as e:  # report what stopped it, with the count so far
        print(f"records {c.n} seconds {time.perf_counter() - t0:.3f} stopped: {type(e).__name__}: {str(e)[:200]}")
        return 1
    print(f"records {c.n} seconds {time.perf_counter() - t0:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
