"""Build step (make gen): buf/validate/validate.proto as a FileDescriptorSet.

intake.proto declares its field rules with protovalidate's options, which
live in buf/validate/validate.proto. No PyPI package ships that file for the
google.protobuf runtime, but the protovalidate 2.x wheel embeds its
serialized FileDescriptorProto in a generated module. We read that literal
(without importing the module, which needs another protobuf runtime) and
write it, with the well-known types it imports, as a descriptor set that
protoc takes with --descriptor_set_in.

    python -m intake_service.buf_validate_descriptor <protovalidate-2.x.whl> <out.pb>
"""

from __future__ import annotations

import ast
import sys
import zipfile

from google.protobuf import descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2

MODULE = "protovalidate/_gen/buf/validate/validate_pb.py"


def descriptor_set(wheel: str) -> descriptor_pb2.FileDescriptorSet:
    source = zipfile.ZipFile(wheel).read(MODULE).decode()
    literal = next(
        node.args[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "file_desc"
    )
    validate = descriptor_pb2.FileDescriptorProto.FromString(ast.literal_eval(literal))
    if validate.name != "buf/validate/validate.proto":
        raise SystemExit(f"{wheel}: expected buf/validate/validate.proto, found {validate.name}")
    out = descriptor_pb2.FileDescriptorSet()
    for module in (descriptor_pb2, duration_pb2, field_mask_pb2, timestamp_pb2):
        module.DESCRIPTOR.CopyToProto(out.file.add())
    out.file.append(validate)
    return out


if __name__ == "__main__":
    wheel, target = sys.argv[1:3]
    with open(target, "wb") as f:
        f.write(descriptor_set(wheel).SerializeToString())
