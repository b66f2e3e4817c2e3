"""Turns .proto files into C++ messages and gRPC stubs with Debian's protoc and grpc_cpp_plugin."""

def sluice_cc_proto(name, srcs, deps = [], grpc = True, visibility = None):
    """Generates <name>: a cc_library with the messages (and services when grpc=True).

    Args:
      name: target name of the resulting cc_library.
      srcs: .proto files in this package; imports are resolved from the workspace root.
      deps: other sluice_cc_proto targets whose .proto files these import.
      grpc: also run grpc_cpp_plugin for service stubs.
      visibility: passed to the cc_library.
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    pkg = native.package_name()
    grpc_flags = "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin --grpc_out=$(GENDIR) " if grpc else ""
    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = "/usr/bin/protoc -I. --cpp_out=$(GENDIR) " + grpc_flags +
              " ".join(["%s/%s" % (pkg, s) if pkg else s for s in srcs]),
    )
    native.filegroup(name = name + "_srcs", srcs = srcs, visibility = visibility)
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//bazel:system_grpc" if grpc else "//bazel:system_protobuf"],
        visibility = visibility,
    )
