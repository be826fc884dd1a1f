#!/usr/bin/python3
"""Decodes a TensorBoard event file with Google's protobuf runtime (Debian's
python3-protobuf), independently of jempp's writer: checks every record's framing and
masked CRC-32C, parses each record as a tensorflow.Event message built from descriptors
with the official field numbers (tensorflow/core/util/event.proto,
tensorflow/core/framework/summary.proto), and prints one line per value:

    file_version <string>
    <step> <tag> scalar <value>
    <step> <tag> image <height>x<width>x<colorspace> <png bytes> <png sha256 prefix>

Exit status 1 with a message on the first malformed record. tests/test_tfevents.c runs it.

    /usr/bin/python3 tools/tfevents_decode.py FILE
"""
import hashlib
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def crc32c(data):
    """CRC-32C (Castagnoli), reflected polynomial 0x82f63b78."""
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def messages():
    """tensorflow.Event, Summary, Summary.Value and Summary.Image with their official
    field numbers (only the fields jempp writes and TensorBoard reads for them)."""
    fd = descriptor_pb2.FileDescriptorProto(name="jempp_tfevents.proto", package="tensorflow", syntax="proto3")

    def msg(parent, name, fields):
        m = parent.add(name=name)
        for fname, num, ftype, label, tname in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                f.type_name = tname
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    summary = msg(fd.message_type, "Summary", [("value", 1, F.TYPE_MESSAGE, rep, ".tensorflow.Summary.Value")])
    msg(summary.nested_type, "Image", [("height", 1, F.TYPE_INT32, opt, None), ("width", 2, F.TYPE_INT32, opt, None),
                                       ("colorspace", 3, F.TYPE_INT32, opt, None),
                                       ("encoded_image_string", 4, F.TYPE_BYTES, opt, None)])
    msg(summary.nested_type, "Value", [("node_name", 7, F.TYPE_STRING, opt, None), ("tag", 1, F.TYPE_STRING, opt, None),
                                       ("simple_value", 2, F.TYPE_FLOAT, opt, None),
                                       ("image", 4, F.TYPE_MESSAGE, opt, ".tensorflow.Summary.Image")])
    msg(fd.message_type, "Event", [("wall_time", 1, F.TYPE_DOUBLE, opt, None), ("step", 2, F.TYPE_INT64, opt, None),
                                   ("file_version", 3, F.TYPE_STRING, opt, None),
                                   ("summary", 5, F.TYPE_MESSAGE, opt, ".tensorflow.Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    return factory.GetPrototype(pool.FindMessageTypeByName("tensorflow.Event"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tfevents_decode.py FILE")
    Event = messages()
    data = open(sys.argv[1], "rb").read()
    at, n = 0, 0
    while at < len(data):
        if at + 12 > len(data):
            sys.exit(f"record {n} at byte {at}: truncated header")
        head = data[at:at + 8]
        (length,) = struct.unpack("<Q", head)
        (hcrc,) = struct.unpack("<I", data[at + 8:at + 12])
        if hcrc != masked(head):
            sys.exit(f"record {n} at byte {at}: length CRC {hcrc:#x}, want {masked(head):#x}")
        body = data[at + 12:at + 12 + length]
        if len(body) != length or at + 16 + length > len(data):
            sys.exit(f"record {n} at byte {at}: truncated data")
        (dcrc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if dcrc != masked(body):
            sys.exit(f"record {n} at byte {at}: data CRC {dcrc:#x}, want {masked(body):#x}")
        ev = Event()
        ev.ParseFromString(body)
        if ev.file_version:
            print(f"file_version {ev.file_version}")
        for v in ev.summary.value:
            if v.HasField("image"):
                im = v.image
                png = im.encoded_image_string
                print(f"{ev.step} {v.tag} image {im.height}x{im.width}x{im.colorspace} {len(png)} "
                      f"{hashlib.sha256(png).hexdigest()[:16]}")
            else:
                print(f"{ev.step} {v.tag} scalar {v.simple_value:.9g}")
        at += 16 + length
        n += 1
    print(f"records {n}")


if __name__ == "__main__":
    main()
