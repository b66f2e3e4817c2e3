#!/usr/bin/env python3
"""Static checks of the image recipe deploy/image/Containerfile (Python 3 stdlib only).

There is no container engine on the build machines, so the image is never built here. This
checks the recipe instead:
  - both stages start from Debian 12 (bookworm) slim;
  - the build stage installs every package setup.sh installs to build (less the brokers and
    clients only the tests run) and builds //broker:sluiced and //tools/sluicectl:sluicectl;
  - the runtime stage runs as a non-root USER with sluiced as the ENTRYPOINT, has sluicectl
    on PATH, installs no compilers or -dev packages;
  - every shared library that the sluiced and sluicectl built by Bazel for this test link
    (ldd) belongs to a Debian package (dpkg -S) that the runtime stage installs, directly or
    as a dependency, and every package it installs is needed;
  - every setting in deploy/k8s/base/sluiced.yaml is a setting of this sluiced (--help), the
    cluster settings of the Kubernetes contract excepted while sluiced does not have them yet.

Usage: image_recipe_test.py SLUICED SLUICECTL   (Bazel passes the built binaries)
"""
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failure, Skip, Suite, expect, expect_no_problems, repo_root, tmp_dir  # noqa: E402

ROOT = repo_root()
CONTAINERFILE = os.path.join(ROOT, "deploy", "image", "Containerfile")
# setup.sh packages the image build does not need: brokers, clients and network tools the
# tests run (the chaos tests put nodes in network namespaces with nftables rules).
TEST_ONLY_PACKAGES = {"mosquitto", "mosquitto-clients", "kcat", "iproute2", "nftables"}
# Installed by the runtime stage although no binary links them.
RUNTIME_EXTRAS = {"ca-certificates"}
# Cluster settings of the Kubernetes contract (deploy/k8s/README.md) that sluiced may not
# register yet; once it does, they are checked like the others.
CONTRACT_KEYS = {"node_id", "cluster_listen", "cluster_peers", "cluster_join", "cluster_advertise"}
BUILD_ONLY = re.compile(r"(-dev$|^bazel|^build-essential$|^g\+\+|^gcc|^clang|^lld$|^protobuf-compiler)")


def instructions(path):
    """[(INSTRUCTION, text)] with comments dropped and continuation lines joined."""
    out, pending = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not pending and line.lstrip().startswith("#"):
                continue
            if pending and line.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip():
                word, _, rest = line.strip().partition(" ")
                out.append((word.upper(), rest.strip()))
    return out


def stages(path):
    """[{"image", "name", "instructions"}] per FROM."""
    result = []
    for word, rest in instructions(path):
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            result.append({"image": parts[0], "name": name, "instructions": []})
        elif result:
            result[-1]["instructions"].append((word, rest))
    return result


def apt_packages(stage):
    pkgs = []
    for word, rest in stage["instructions"]:
        if word != "RUN":
            continue
        for m in re.finditer(r"apt-get\s+install\s+([^&;|]*)", rest):
            pkgs += [t for t in m.group(1).split() if not t.startswith("-")]
    return pkgs


def setup_sh():
    """setup.sh: a runfile when the root BUILD exports it, else read from the source tree this
    script lives in (Python resolves the runfile symlink; the sandbox leaves the tree readable)."""
    for root in (ROOT, os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))):
        if os.path.isfile(os.path.join(root, "setup.sh")):
            return os.path.join(root, "setup.sh")
    raise Failure("setup.sh not found")


def setup_packages():
    with open(setup_sh()) as f:
        m = re.search(r"PACKAGES=\((.*?)\)", f.read(), re.S)
    expect(m, "setup.sh: no PACKAGES=( ... ) list")
    return [t for t in re.sub(r"#.*", "", m.group(1)).split()]


# ---------------------------------------------------------------------------------------------


def case_stages(path=CONTAINERFILE):
    s = stages(path)
    expect(len(s) >= 2, f"expected a build stage and a runtime stage, got {len(s)} FROM lines")
    problems = []
    for st in s:
        if not re.fullmatch(r"(docker\.io/(library/)?)?debian:(bookworm|12)-slim(@sha256:[0-9a-f]{64})?", st["image"]):
            problems.append(f"FROM {st['image']}: expected debian:bookworm-slim (Debian 12, pinned)")
        if not st["name"]:
            problems.append(f"FROM {st['image']}: name the stage (AS ...)")
    expect_no_problems(problems, "Containerfile")


def case_build_stage(path=CONTAINERFILE):
    build = stages(path)[0]
    have = set(apt_packages(build))
    want = set(setup_packages()) - TEST_ONLY_PACKAGES
    problems = [f"build stage does not install {p} (setup.sh does)" for p in sorted(want - have)]
    runs = " ".join(rest for word, rest in build["instructions"] if word == "RUN")
    m = re.search(r"bazel\s+build\s+([^&;|]*)", runs)
    if not m:
        problems.append("build stage: no `bazel build`")
    else:
        for target in ("//broker:sluiced", "//tools/sluicectl:sluicectl"):
            if target not in m.group(1).split():
                problems.append(f"build stage: `bazel build` does not build {target}")
    expect_no_problems(problems, "Containerfile build stage")


def case_runtime_stage(path=CONTAINERFILE):
    s = stages(path)
    runtime, build = s[-1], s[0]
    problems = []
    users = [rest for word, rest in runtime["instructions"] if word == "USER"]
    if not users:
        problems.append("runtime stage: no USER (it would run as root)")
    elif users[-1].split(":")[0] in ("0", "root"):
        problems.append(f"runtime stage: USER {users[-1]} is root")
    elif not users[-1].split(":")[0].isdigit():
        problems.append(f"runtime stage: USER {users[-1]}: use a numeric uid so runAsNonRoot can verify it")
    entry = [rest for word, rest in runtime["instructions"] if word == "ENTRYPOINT"]
    m = re.fullmatch(r'\[\s*"([^"]+)"\s*(,.*)?\]', entry[-1]) if entry else None
    if not m or not m.group(1).endswith("/sluiced"):
        problems.append(f"runtime stage: ENTRYPOINT must be the exec form [\"/.../sluiced\"], got {entry}")
    copies = [rest for word, rest in runtime["instructions"] if word == "COPY" and "--from=" in rest]
    if not any(f"--from={build['name']}" in c for c in copies):
        problems.append(f"runtime stage: nothing copied from the build stage {build['name']!r}")
    build_runs = " ".join(rest for word, rest in build["instructions"] if word == "RUN")
    for binary in ("sluiced", "sluicectl"):
        # The build stage lays the files out under /out/, copied to / by the runtime stage.
        if not re.search(rf"/out/usr/local/bin/{binary}\b", build_runs) or not any(
                re.fullmatch(r"--from=\S+\s+/out/?\s+/", c) for c in copies):
            problems.append(f"image: {binary} is not installed as /usr/local/bin/{binary} (on PATH; the "
                            "StatefulSet's preStop hook runs sluicectl)")
    if entry and m and m.group(1) != "/usr/local/bin/sluiced":
        problems.append(f"ENTRYPOINT {m.group(1)} is not where sluiced is installed")
    for p in apt_packages(runtime):
        if BUILD_ONLY.search(p):
            problems.append(f"runtime stage installs {p}, a build-time package")
    expect_no_problems(problems, "Containerfile runtime stage")


def ldd_packages(binaries):
    """{library path: Debian package} for every shared library the binaries load."""
    if not shutil.which("ldd") or not shutil.which("dpkg"):
        raise Skip("needs ldd and dpkg (a Debian machine)")
    libs, problems = {}, []
    for b in binaries:
        out = subprocess.run(["ldd", b], capture_output=True, text=True, timeout=60).stdout
        for line in out.splitlines():
            line = line.strip()
            if "not found" in line:
                problems.append(f"{os.path.basename(b)}: {line}")
            m = re.match(r"\S+ => (/\S+)", line) or re.match(r"(/\S+) \(", line)
            if m:
                libs[m.group(1)] = None
    expect_no_problems(problems, "ldd")
    # One dpkg -S for all of them: each path as ldd gives it, resolved, and with /usr toggled
    # (merged /usr: a package may list either spelling).
    candidates = {}
    for lib in libs:
        for c in (lib, os.path.realpath(lib)):
            for v in (c, c[4:] if c.startswith("/usr/") else "/usr" + c):
                candidates.setdefault(v, lib)
    p = subprocess.run(["dpkg", "-S"] + sorted(candidates), capture_output=True, text=True, timeout=120)
    for line in p.stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        lib = candidates.get(path.strip())
        if lib and libs[lib] is None:
            libs[lib] = pkgs.split(",")[0].split(":")[0].strip()
    unowned = [lib for lib, pkg in libs.items() if pkg is None]
    expect(not unowned, "libraries no Debian package owns (built by hand?): " + ", ".join(unowned))
    return libs


def installed_depends():
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Pre-Depends}, ${Depends}\n"],
                         capture_output=True, text=True, timeout=60).stdout
    deps = {}
    for line in out.splitlines():
        name, _, rest = line.partition("\t")
        names = set()
        for group in rest.split(","):
            for alt in group.split("|"):
                alt = re.sub(r"\(.*?\)", "", alt).strip().split(":")[0]
                if alt:
                    names.add(alt)
        deps[name] = names
    return deps


def closure(roots, deps):
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(deps.get(p, ()))
    return seen


def case_runtime_libraries(binaries, path=CONTAINERFILE):
    libs = ldd_packages(binaries)
    runtime = apt_packages(stages(path)[-1])
    deps = installed_depends()
    unknown = [p for p in runtime if p not in deps]
    expect(not unknown, f"runtime packages not installed on this machine, so their dependencies are unknown: {unknown}")
    provided = closure(runtime, deps)
    missing = sorted({f"{pkg} (for {os.path.basename(lib)})" for lib, pkg in libs.items() if pkg not in provided})
    expect_no_problems([f"runtime stage installs neither {m} nor a package depending on it" for m in missing],
                       "runtime libraries")
    needed = set(libs.values())
    unused = [p for p in runtime if p not in needed and p not in RUNTIME_EXTRAS]
    expect_no_problems([f"runtime stage installs {p}, which no library of sluiced or sluicectl comes from"
                        for p in unused], "runtime packages")
    return f"{len(libs)} libraries from {len(needed)} packages, all installed by the runtime stage"


def case_config_keys(sluiced):
    p = subprocess.run([sluiced, "--help"], capture_output=True, text=True, timeout=60)
    expect(p.returncode == 0, f"sluiced --help exited {p.returncode}: {p.stderr}")
    flags = set(re.findall(r"^\s*--([a-z0-9.-]+)", p.stdout, re.M))
    expect(len(flags) > 20, f"sluiced --help lists only {len(flags)} flags")
    with open(os.path.join(ROOT, "deploy", "k8s", "base", "sluiced.yaml")) as f:
        keys = re.findall(r"^([a-z_][a-z0-9_]*):", f.read(), re.M)
    expect(keys, "deploy/k8s/base/sluiced.yaml has no settings")
    unknown = [k for k in keys if k.replace("_", "-") not in flags]
    pending = [k for k in unknown if k in CONTRACT_KEYS]
    expect_no_problems([f"sluiced.yaml: {k} is not a sluiced setting" for k in unknown if k not in CONTRACT_KEYS],
                       "sluiced.yaml")
    if pending:
        return f"not yet in this sluiced (cluster contract): {', '.join(pending)}"
    return None


def negative(check, binaries, old, new, needle):
    """A copy of the Containerfile with `old` replaced by `new` must fail `check`, saying `needle`."""
    with open(CONTAINERFILE) as f:
        text = f.read()
    expect(text.count(old) == 1, f"negative case setup: {old!r} occurs {text.count(old)} times")
    path = os.path.join(tmp_dir(), "Containerfile.broken")
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    try:
        check(binaries, path) if binaries is not None else check(path)
    except Failure as e:
        expect(needle in str(e), f"failed, but without {needle!r}: {e}")
        return "rejected: " + next(l.strip() for l in str(e).splitlines() if needle in l)
    raise Failure("the broken Containerfile passed")


def skip(reason):
    raise Skip(reason)


def main():
    expect_args = len(sys.argv) == 3
    suite = Suite("image_recipe")
    suite.run("containerfile_stages_bookworm", case_stages)
    suite.run("containerfile_build_stage", case_build_stage)
    suite.run("containerfile_runtime_stage", case_runtime_stage)
    suite.run("neg_base_not_bookworm", negative, case_stages, None,
              "FROM debian:bookworm-slim AS runtime", "FROM debian:stable-slim AS runtime",
              "FROM debian:stable-slim: expected debian:bookworm-slim")
    suite.run("neg_root_user", negative, case_runtime_stage, None, "USER 10001:10001", "USER root",
              "USER root is root")
    suite.run("neg_no_entrypoint", negative, case_runtime_stage, None,
              'ENTRYPOINT ["/usr/local/bin/sluiced"]', 'CMD ["/usr/local/bin/sluiced"]', "ENTRYPOINT must be")
    suite.run("neg_build_package_missing", negative, case_build_stage, None, " librocksdb-dev", "",
              "does not install librocksdb-dev")
    if expect_args:
        binaries = [os.path.abspath(a) for a in sys.argv[1:3]]
        suite.run("runtime_libraries", case_runtime_libraries, binaries)
        suite.run("sluiced_yaml_keys", case_config_keys, binaries[0])
        suite.run("neg_runtime_library_missing", negative, case_runtime_libraries, binaries,
                  "      libyaml-cpp0.7 \\\n", "", "libyaml-cpp0.7 (for libyaml-cpp.so.0.7)")
    else:
        for name in ("runtime_libraries", "sluiced_yaml_keys"):
            suite.run(name, skip, "usage: image_recipe_test.py SLUICED SLUICECTL (bazel test passes them)")
    sys.exit(suite.finish())


if __name__ == "__main__":
    main()
