#!/usr/bin/env python3
"""Cross-check of the RouterOS API framing with librouteros (an independent implementation).

Reads commands on stdin, one per line, and answers each with one line on stdout:
  E <json list of words>   -> hex of the sentence as librouteros encodes it
  D <hex>                  -> json list of the words librouteros decodes from one sentence
  L <length>               -> hex of librouteros's length prefix, or "ERR <reason>"
  C <hex>                  -> decoded length of a length prefix, or "ERR <reason>"
Words are UTF-8.
"""
import io
import json
import sys

from librouteros.protocol import ApiProtocol, decode_length, determine_length, encode_length, encode_sentence


class BufferTransport:
    """The transport interface ApiProtocol reads from, over a byte string."""

    def __init__(self, data: bytes) -> None:
        self.buf = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        data = self.buf.read(n)
        if len(data) != n:
            raise EOFError("sentence ends early")
        return data

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def main() -> None:
    for line in sys.stdin:
        op, _, arg = line.rstrip("\n").partition(" ")
        try:
            if op == "E":
                words = json.loads(arg)
                out = encode_sentence(*words, encoding="utf-8").hex()
            elif op == "D":
                proto = ApiProtocol(BufferTransport(bytes.fromhex(arg)), encoding="utf-8")
                words = [w for w in iter(proto.readWord, "")]
                out = json.dumps(words)
            elif op == "L":
                out = encode_length(int(arg)).hex()
            elif op == "C":
                prefix = bytes.fromhex(arg)
                determine_length(prefix[:1])
                out = str(decode_length(prefix))
            else:
                out = "ERR unknown op"
        except Exception as e:  # noqa: BLE001 - report every refusal to the caller
            out = f"ERR {type(e).__name__}: {e}"
        print(out, flush=True)


if __name__ == "__main__":
    main()
