"""libFuzzer targets that also build, without clang, as corpus-replay binaries."""

def sluice_fuzz_target(name, srcs, deps = [], corpus = []):
    """A fuzz target: `bazel run --config=fuzz //pkg:name -- -max_total_time=60` fuzzes it.

    Outside --config=fuzz the same source links with //tests/fuzz:replay_main, which runs
    LLVMFuzzerTestOneInput over every file of the corpus, so the corpus and every crash found
    (kept in the corpus as a regression) run in the default test suite as <name>_regression.
    <name>_smoke fuzzes for 20 s from the corpus under --config=fuzz (a replay otherwise).
    """
    native.cc_binary(
        name = name,
        srcs = srcs,
        deps = deps + select({
            "//bazel:fuzzing": [],
            "//conditions:default": ["//tests/fuzz:replay_main"],
        }),
        linkopts = select({
            "//bazel:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        testonly = True,
    )
    native.sh_test(
        name = name + "_smoke",
        srcs = ["//tests/fuzz:fuzz_smoke.sh"],
        args = ["$(location :%s)" % name, "20"] + ["$(locations %s)" % c for c in corpus],
        data = [":" + name] + corpus,
    )
    native.sh_test(
        name = name + "_regression",
        srcs = ["//tests/fuzz:run_corpus.sh"],
        args = ["$(location :%s)" % name] + ["$(locations %s)" % c for c in corpus],
        data = [":" + name] + corpus,
    )
