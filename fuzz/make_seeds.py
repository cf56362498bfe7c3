#!/usr/bin/env python3
"""Writes the seed corpus: masked client frames carrying typical and broken ExoCom messages."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "frame_to_route")
MASK = b"\x11\x22\x33\x44"


def frame(payload, opcode=1, fin=True):
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def reg(role, payload="{}"):
    return frame('{"name":"exocom.register-service","sender":"%s","payload":%s}' % (role, payload))


SEEDS = {
    "register_and_send": reg("web", '{"ack":true,"errors":true}')
    + frame('{"name":"users.create","sender":"web","id":"1","activityId":"a","payload":{"x":1}}'),
    "security_flow": reg("security")
    + frame('{"name":"security request","sender":"security","activityId":"s","payload":{"name":"ping","activityId":"in"}}')
    + frame('{"name":"message unauthorized","sender":"security","activityId":"nope"}'),
    "reply": reg("users") + frame('{"name":"mongo.created","sender":"users","activityId":"a","payload":[]}'),
    "fragmented": reg("web") + frame('{"name":"pi', fin=False) + frame("", opcode=9) + frame('ng","sender":"web"}', opcode=0),
    "bad_json": reg("web") + frame('{"name":') + frame("[1,2]") + frame('{"name":1}'),
    "spoof": reg("web") + frame('{"name":"mongo.created","sender":"users"}'),
    "close": reg("web") + frame(b"\x03\xe8bye", opcode=8) + reg("users"),
    "escapes": reg("web") + frame('{"name":"users.create","sender":"w\\u0065b","payload":"\\ud83d\\ude00"}'),
    "dev_routes": reg("newcomer", '{"receives":["x"],"sends":["y"]}'),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
