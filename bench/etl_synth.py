#!/usr/bin/env python3
"""etl_synth.py SRC.etl OUT.etl MIN_BYTES - a large synthetic ETL made of a real
trace's buffers: the header buffer once, then the data buffers repeated in
rounds until OUT reaches MIN_BYTES. Each round shifts every record's timestamp
by the source's time span and the buffers' sequence numbers by the buffer
count, so the result is one long, valid, time-consistent trace. Uncompressed
sources only. (Benchmark input only: it lives outside the repository.)"""
import struct
import sys

KIND_TS = {1: 16, 2: 16, 3: 16, 4: 16, 16: 8, 17: 8, 10: 16, 20: 16, 11: 16, 21: 16, 18: 16, 19: 16}
SIZE_AT = {1: 4, 2: 4, 3: 4, 4: 4, 16: 4, 17: 4}


def buffers(data):
    off = 0
    while off + 72 <= len(data):
        size = struct.unpack_from("<I", data, off)[0]
        yield off, size
        off += size


def records(buf):
    end = struct.unpack_from("<I", buf, 0x30)[0]
    if end < 72 or end > len(buf):
        end = len(buf)
    pos = 72
    while pos + 4 <= end:
        marker = struct.unpack_from("<I", buf, pos)[0]
        if marker in (0, 0xFFFFFFFF):
            return
        htype = (marker >> 16) & 0xFF
        size = struct.unpack_from("<H", buf, pos + SIZE_AT.get(htype, 0))[0]
        if htype not in KIND_TS or size == 0:
            return
        yield pos, KIND_TS[htype]
        pos += (size + 7) & ~7


def main():
    src, out, min_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(src, "rb").read()
    bufs = list(buffers(data))
    if any(struct.unpack_from("<H", data, o + 0x34)[0] & 0x40 for o, _ in bufs):
        sys.exit("compressed source: not supported")
    lo, hi = None, 0
    for o, s in bufs[1:]:
        for p, t in records(data[o:o + s]):
            ts = struct.unpack_from("<Q", data, o + p + t)[0]
            lo = ts if lo is None else min(lo, ts)
            hi = max(hi, ts)
    span = hi - lo + 1
    data_bytes = sum(s for _, s in bufs[1:])
    rounds = max(1, -(-(min_bytes - bufs[0][1]) // data_bytes))
    with open(out, "wb") as f:
        head = bytearray(data[:bufs[0][1]])
        # BuffersWritten in the logfile header (payload of the first record, after 72 + 32 bytes)
        struct.pack_into("<I", head, 72 + 32 + 36, 1 + rounds * (len(bufs) - 1))
        f.write(head)
        for r in range(rounds):
            for o, s in bufs[1:]:
                b = bytearray(data[o:o + s])
                if r:
                    seq = struct.unpack_from("<Q", b, 0x18)[0]
                    struct.pack_into("<Q", b, 0x18, seq + r * len(bufs))
                    for p, t in records(b):
                        ts = struct.unpack_from("<Q", b, p + t)[0]
                        struct.pack_into("<Q", b, p + t, ts + r * span)
                f.write(b)
    print(f"{out}: {rounds} rounds of {len(bufs) - 1} buffers, {bufs[0][1] + rounds * data_bytes} bytes")


if __name__ == "__main__":
    main()
