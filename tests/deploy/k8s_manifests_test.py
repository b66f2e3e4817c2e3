#!/usr/bin/env python3
"""Offline checks of Sluice's Kubernetes manifests (deploy/k8s), Python 3 stdlib only.

For each overlay (dev, prod) and each kubectl found (the one on PATH, and kubectl 1.20 with
kustomize v2.0.3 that deploy/k8s/validate/install.sh unpacks into /opt/sluice-k8s-validate):
  render    `kubectl kustomize deploy/k8s/overlays/NAME` succeeds
  schema    every rendered object validates against the Kubernetes OpenAPI schemas, offline
            (deploy/k8s/validate/validate.cjs: kubernetes-models' compiled schemas in Node.js;
            wrong types, bad enums, missing required fields, unknown fields)
then, on the PATH kubectl's rendering, structural checks the schemas cannot express (quorum
vs. PDB, ports named by Services exist, probes on the metrics port, the drain fits in the
grace period, ...), start.sh run with a stand-in sluiced, kubectl 1.20's rendering equal to
the newer one, and negative cases: deliberately broken copies of the manifests must fail
with the object and the field named.

Skips (exit 0, "SKIPPED: ...") only when no kubectl exists at all. A missing validator is a
failure: run deploy/k8s/validate/install.sh (setup.sh does).
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Failure, Skip, Suite, expect, expect_no_problems, repo_root, tmp_dir  # noqa: E402

ROOT = repo_root()
TOOLS = os.environ.get("SLUICE_K8S_TOOLS", "/opt/sluice-k8s-validate")
VALIDATOR = os.path.join(ROOT, "deploy", "k8s", "validate", "validate.cjs")
OLD_KUBECTL = os.path.join(TOOLS, "kubectl-1.20", "usr", "bin", "kubectl")
OVERLAYS = {
    # overlay: what it must render to
    "dev": {"namespace": "sluice-dev", "replicas": 1, "spread": False},
    "prod": {"namespace": "sluice", "replicas": 3, "spread": True},
}
STARTUP_BUDGET_S = 600      # startupProbe: at least this long to open a large log / catch up
SIGTERM_MARGIN_S = 30       # grace period left for sluiced's own clean stop after the drain


# ---------------------------------------------------------------------------------------------
# Tools


def kubectl_label(kubectl):
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, timeout=60).stdout
    try:
        v = json.loads(out)["clientVersion"]
        return f"kubectl-{v['major']}.{v['minor'].rstrip('+')}"
    except (ValueError, KeyError):
        return "kubectl-" + os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(kubectl))))


def find_kubectls():
    found = []
    path_kubectl = shutil.which("kubectl")
    if path_kubectl:
        found.append(path_kubectl)
    if os.access(OLD_KUBECTL, os.X_OK) and (not path_kubectl or
                                             os.path.realpath(path_kubectl) != os.path.realpath(OLD_KUBECTL)):
        found.append(OLD_KUBECTL)
    return found


def render(kubectl, overlay_dir):
    p = subprocess.run([kubectl, "kustomize", overlay_dir], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Failure(f"{os.path.basename(kubectl)} kustomize {overlay_dir} exited {p.returncode}:\n{p.stderr}")
    return p.stdout


def node_validator(args, text):
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        raise Failure("node not found: run deploy/k8s/validate/install.sh (setup.sh does)")
    p = subprocess.run([node, VALIDATOR] + args + ["-"], input=text, capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, SLUICE_K8S_TOOLS=TOOLS))
    if p.returncode == 2:
        raise Failure(f"validator unusable: {p.stderr.strip()}")
    try:
        result = json.loads(p.stdout)
    except ValueError:
        raise Failure(f"validator printed no JSON (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")
    return result["objects"], result["errors"]


def validate(yaml_text):
    """(objects, errors): the schema validation of a multi-document YAML."""
    return node_validator([], yaml_text)


def parse_yaml(yaml_text):
    objects, errors = node_validator(["--parse-yaml"], yaml_text)
    if errors:
        raise Failure("YAML errors: " + "; ".join(errors))
    return objects


# ---------------------------------------------------------------------------------------------
# The rendered objects, indexed, with the parts the checks share


def parse_host_port(text):
    host, _, port = (text or "").rpartition(":")
    return host.strip("[]"), int(port) if port.isdigit() else None


QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
FACTORS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(value):
    m = QUANTITY.match(str(value))
    if not m:
        raise Failure(f"cannot read quantity {value!r}")
    return float(m.group(1)) * FACTORS[m.group(2)]


class Rendered:
    def __init__(self, objects):
        self.objects = objects
        self.by_key = {(o.get("kind"), o.get("metadata", {}).get("name")): o for o in objects}
        self.sts = self.get("StatefulSet", "sluice")
        self.pod = self.sts["spec"]["template"]
        self.pod_spec = self.pod["spec"]
        self.pod_labels = self.pod.get("metadata", {}).get("labels", {})
        containers = {c["name"]: c for c in self.pod_spec.get("containers", [])}
        if "sluiced" not in containers:
            raise Failure("StatefulSet/sluice has no container named sluiced")
        self.c = containers["sluiced"]
        self.env = {e["name"]: e for e in self.c.get("env", [])}
        self.ports = {p.get("name"): p for p in self.c.get("ports", [])}
        self.volumes = {v["name"]: v for v in self.pod_spec.get("volumes", [])}
        self.mounts = {m["name"]: m for m in self.c.get("volumeMounts", [])}
        self.config_map = None
        cm_name = self.volumes.get("config", {}).get("configMap", {}).get("name")
        self.config_map = self.by_key.get(("ConfigMap", cm_name))
        if not self.config_map:
            raise Failure(f"volume 'config' names ConfigMap {cm_name!r}, which is not rendered")
        self.config = parse_yaml(self.config_map.get("data", {}).get("sluiced.yaml", ""))[0]

    def get(self, kind, name):
        obj = self.by_key.get((kind, name))
        if obj is None:
            raise Failure(f"{kind}/{name} is missing from the rendered objects")
        return obj

    def container_port(self, ref):
        """The containerPort number a Service targetPort / probe port (name or number) names."""
        if isinstance(ref, int):
            return ref if any(p["containerPort"] == ref for p in self.ports.values()) else None
        p = self.ports.get(ref)
        return p["containerPort"] if p else None

    def replicas(self):
        return self.sts["spec"].get("replicas", 1)

    def listen_port(self, key):
        return parse_host_port(self.config.get(key))[1]


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ---------------------------------------------------------------------------------------------
# Structural checks: each returns a list of problems (empty = fine)


def check_objects(r, overlay):
    want = OVERLAYS[overlay]
    problems = []
    # No Namespace object: `kubectl delete -k` would take the volumes with it.
    expected = {("StatefulSet", "sluice"), ("Service", "sluice"),
                ("Service", "sluice-headless"), ("PodDisruptionBudget", "sluice"),
                ("ConfigMap", "sluice-grafana-dashboard"), ("ConfigMap", r.config_map["metadata"]["name"])}
    got = set(r.by_key)
    for key in sorted(expected - got):
        problems.append(f"missing {key[0]}/{key[1]}")
    for key in sorted(got - expected):
        problems.append(f"unexpected {key[0]}/{key[1]}")
    if not re.fullmatch(r"sluice-config-[a-z0-9]{6,}", r.config_map["metadata"]["name"]):
        problems.append(f"ConfigMap {r.config_map['metadata']['name']}: expected a generated sluice-config-<hash>")
    for o in r.objects:
        if o["metadata"].get("namespace") != want["namespace"]:
            problems.append(f"{o['kind']}/{o['metadata']['name']}: namespace {o['metadata'].get('namespace')!r}, "
                            f"want {want['namespace']!r}")
    return problems


def check_statefulset(r, overlay):
    spec, problems = r.sts["spec"], []
    if r.replicas() != OVERLAYS[overlay]["replicas"]:
        problems.append(f"StatefulSet/sluice: spec.replicas {r.replicas()}, want {OVERLAYS[overlay]['replicas']}")
    if spec.get("podManagementPolicy") != "Parallel":
        problems.append("StatefulSet/sluice: spec.podManagementPolicy must be Parallel")
    headless = r.by_key.get(("Service", spec.get("serviceName")))
    if not headless or headless["spec"].get("clusterIP") != "None":
        problems.append(f"StatefulSet/sluice: spec.serviceName {spec.get('serviceName')!r} is not a rendered "
                        "headless Service (clusterIP: None)")
    if not selects(spec.get("selector", {}).get("matchLabels"), r.pod_labels):
        problems.append("StatefulSet/sluice: spec.selector does not match the pod template's labels")
    if spec.get("updateStrategy", {}).get("type", "RollingUpdate") != "RollingUpdate":
        problems.append("StatefulSet/sluice: spec.updateStrategy.type must be RollingUpdate")
    claims = {t["metadata"]["name"]: t for t in spec.get("volumeClaimTemplates", [])}
    data_mount = r.mounts.get("data")
    if "data" not in claims or not data_mount:
        problems.append("StatefulSet/sluice: needs a volumeClaimTemplate 'data' mounted in the sluiced container")
    else:
        if "ReadWriteOnce" not in claims["data"]["spec"].get("accessModes", []):
            problems.append("volumeClaimTemplate data: accessModes must include ReadWriteOnce")
        data_dir = r.config.get("data_dir", "")
        if not (data_dir + "/").startswith(data_mount["mountPath"].rstrip("/") + "/"):
            problems.append(f"sluiced.yaml data_dir {data_dir!r} is not on the data volume "
                            f"(mounted at {data_mount['mountPath']})")
    for name, m in r.mounts.items():
        if name not in r.volumes and name not in claims:
            problems.append(f"container sluiced: volumeMount {name} has no volume")
    return problems


def check_cluster_env(r, overlay):
    problems = []

    def field_ref(name):
        return r.env.get(name, {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")

    if field_ref("SLUICE_POD_NAME") != "metadata.name":
        problems.append("env SLUICE_POD_NAME must come from fieldRef metadata.name")
    if field_ref("SLUICE_NAMESPACE") != "metadata.namespace":
        problems.append("env SLUICE_NAMESPACE must come from fieldRef metadata.namespace")
    if r.env.get("SLUICE_HEADLESS_SERVICE", {}).get("value") != r.sts["spec"].get("serviceName"):
        problems.append("env SLUICE_HEADLESS_SERVICE must equal spec.serviceName")
    if r.env.get("SLUICE_REPLICAS", {}).get("value") != str(r.replicas()):
        problems.append(f"env SLUICE_REPLICAS {r.env.get('SLUICE_REPLICAS', {}).get('value')!r} must equal "
                        f"spec.replicas {r.replicas()} (the initial cluster size)")
    if r.pod_spec.get("enableServiceLinks", True):
        problems.append("pod: enableServiceLinks must be false (Service env vars would add SLUICE_* variables)")
    for key in ("node_id", "cluster_peers", "cluster_join", "cluster_advertise"):
        if key in r.config:
            problems.append(f"sluiced.yaml sets {key}: every pod would share it; it must come from the pod's env")
    return problems


def check_headless_service(r, overlay):
    problems = []
    svc = r.get("Service", r.sts["spec"].get("serviceName", "sluice-headless"))
    name = f"Service/{svc['metadata']['name']}"
    if svc["spec"].get("publishNotReadyAddresses") is not True:
        problems.append(f"{name}: spec.publishNotReadyAddresses must be true (peers must find each other "
                        "before they are ready)")
    if svc["spec"].get("clusterIP") != "None":
        problems.append(f"{name}: spec.clusterIP must be None")
    cluster_port = r.listen_port("cluster_listen")
    if cluster_port is None:
        problems.append("sluiced.yaml: cluster_listen must be HOST:PORT")
    targets = [r.container_port(p.get("targetPort", p["port"])) for p in svc["spec"].get("ports", [])]
    if cluster_port not in targets:
        problems.append(f"{name}: no port reaches cluster_listen's port {cluster_port}")
    return problems


def check_service_ports(r, overlay):
    problems = []
    for (kind, name), svc in sorted(r.by_key.items()):
        if kind != "Service":
            continue
        if not selects(svc["spec"].get("selector"), r.pod_labels):
            problems.append(f"Service/{name}: spec.selector does not select the sluice pods")
        for i, p in enumerate(svc["spec"].get("ports", [])):
            ref = p.get("targetPort", p["port"])
            number = r.container_port(ref)
            if number is None:
                problems.append(f"Service/{name}: spec.ports[{i}].targetPort {ref!r} is not a containerPort of "
                                "container sluiced")
                continue
            cport = next(cp for cp in r.ports.values() if cp["containerPort"] == number)
            if cport.get("protocol", "TCP") != p.get("protocol", "TCP"):
                problems.append(f"Service/{name}: spec.ports[{i}] protocol differs from containerPort {number}")
    client = r.by_key.get(("Service", "sluice"))
    if client:
        exposed = {r.container_port(p.get("targetPort", p["port"])) for p in client["spec"]["ports"]}
        for port_name in ("mqtt", "mqtts", "ws", "wss"):
            if r.container_port(port_name) not in exposed:
                problems.append(f"Service/sluice: does not expose containerPort {port_name}")
        for key in ("cluster_listen", "admin_listen", "metrics_listen"):
            if r.listen_port(key) in exposed:
                problems.append(f"Service/sluice: exposes {key}'s port to MQTT clients")
    for key in ("listen", "ws_listen", "cluster_listen", "metrics_listen"):
        port = r.listen_port(key)
        if port is None or r.container_port(port) is None:
            problems.append(f"sluiced.yaml {key} ({r.config.get(key)!r}): its port is not a containerPort")
    admin_host, admin_port = parse_host_port(r.config.get("admin_listen"))
    if admin_host not in ("127.0.0.1", "::1", "localhost"):
        problems.append(f"sluiced.yaml admin_listen {r.config.get('admin_listen')!r}: keep the admin API on loopback")
    if admin_port is not None and r.container_port(admin_port) is not None:
        problems.append("container sluiced: the admin port must not be a containerPort")
    return problems


def check_probes(r, overlay):
    problems = []
    metrics_host, metrics_port = parse_host_port(r.config.get("metrics_listen"))
    if metrics_host not in ("0.0.0.0", "::", ""):
        problems.append(f"sluiced.yaml metrics_listen {r.config.get('metrics_listen')!r}: the kubelet probes the "
                        "pod IP, so it must listen on all addresses")
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz"), ("startupProbe", "/healthz")):
        p = r.c.get(probe)
        if not p or "httpGet" not in p:
            problems.append(f"container sluiced: {probe} must be an httpGet probe")
            continue
        if p["httpGet"].get("path") != path:
            problems.append(f"container sluiced: {probe}.httpGet.path {p['httpGet'].get('path')!r}, want {path}")
        port = r.container_port(p["httpGet"].get("port"))
        if port != metrics_port:
            problems.append(f"container sluiced: {probe}.httpGet.port {p['httpGet'].get('port')!r} is not the "
                            f"metrics port {metrics_port} (metrics_listen)")
    startup = r.c.get("startupProbe") or {}
    budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
    if budget < STARTUP_BUDGET_S:
        problems.append(f"container sluiced: startupProbe allows {budget} s, want >= {STARTUP_BUDGET_S} s "
                        "(opening a large log, catching up)")
    return problems


def drain_timeout(r):
    value = r.env.get("DRAIN_TIMEOUT_S", {}).get("value", "")
    return int(value) if value.isdigit() else None


def check_prestop_drain(r, overlay):
    problems = []
    command = r.c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command") or []
    text = " ".join(command)
    _, admin_port = parse_host_port(r.config.get("admin_listen"))
    if not command:
        return ["container sluiced: lifecycle.preStop.exec.command is missing"]
    if not re.search(r"\bsluicectl\b.*\bnode drain --self\b", text):
        problems.append(f"preStop {command!r} does not run `sluicectl ... node drain --self`")
    if f"--admin 127.0.0.1:{admin_port}" not in text:
        problems.append(f"preStop {command!r} does not address admin_listen (127.0.0.1:{admin_port})")
    if command[0] not in ("/bin/sh", "sluicectl", "/usr/local/bin/sluicectl", "timeout", "/usr/bin/timeout"):
        problems.append(f"preStop runs {command[0]!r}, which the image does not have")
    if not re.search(r'\btimeout "?\$\{?DRAIN_TIMEOUT_S\}?"? ', text):
        problems.append("preStop: the drain must be bounded by `timeout \"$DRAIN_TIMEOUT_S\"`")
    timeout = drain_timeout(r)
    grace = r.pod_spec.get("terminationGracePeriodSeconds", 30)
    if timeout is None:
        problems.append("env DRAIN_TIMEOUT_S must be a whole number of seconds")
    elif grace <= timeout + SIGTERM_MARGIN_S:
        problems.append(f"spec.template.spec.terminationGracePeriodSeconds {grace} must exceed the drain timeout "
                        f"{timeout} s plus {SIGTERM_MARGIN_S} s for sluiced's own stop")
    containerfile = open(os.path.join(ROOT, "deploy", "image", "Containerfile")).read()
    if "/usr/local/bin/sluicectl" not in containerfile:
        problems.append("deploy/image/Containerfile does not install sluicectl into /usr/local/bin (on PATH)")
    return problems


def check_config_and_secrets(r, overlay):
    problems = []
    data = r.config_map.get("data", {})
    for key in ("sluiced.yaml", "start.sh"):
        if key not in data:
            problems.append(f"ConfigMap/{r.config_map['metadata']['name']}: no key {key}")
    mount = r.mounts.get("config", {}).get("mountPath", "")
    if r.c.get("command") != ["/bin/sh", mount.rstrip("/") + "/start.sh"]:
        problems.append(f"container sluiced: command {r.c.get('command')!r} must be /bin/sh {mount}/start.sh")
    secrets = r.volumes.get("secrets", {}).get("projected", {}).get("sources", [])
    if not secrets:
        problems.append("volume secrets: expected a projected volume of the optional Secrets")
    for s in secrets:
        if s.get("secret", {}).get("optional") is not True:
            problems.append(f"volume secrets: Secret {s.get('secret', {}).get('name')!r} must be optional: true")
    for name in ("config", "secrets"):
        if not r.mounts.get(name, {}).get("readOnly"):
            problems.append(f"container sluiced: volumeMount {name} must be readOnly")
    return problems


def check_security(r, overlay):
    problems = []
    pod_sc, sc = r.pod_spec.get("securityContext", {}), r.c.get("securityContext", {})
    if pod_sc.get("runAsNonRoot") is not True or not pod_sc.get("runAsUser"):
        problems.append("pod securityContext: runAsNonRoot true and a non-zero runAsUser")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append("container sluiced: securityContext.readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("container sluiced: securityContext.allowPrivilegeEscalation must be false")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problems.append("container sluiced: securityContext.capabilities.drop must include ALL")
    tmp = next((m for m in r.mounts.values() if m["mountPath"] == "/tmp"), None)
    if not tmp or "emptyDir" not in r.volumes.get(tmp["name"], {}):
        problems.append("container sluiced: /tmp must be a writable emptyDir (the root file system is read-only)")
    return problems


def check_resources(r, overlay):
    problems = []
    res = r.c.get("resources", {})
    for kind in ("requests", "limits"):
        for what in ("cpu", "memory"):
            if what not in res.get(kind, {}):
                problems.append(f"container sluiced: resources.{kind}.{what} is not set")
    if not problems:
        for what in ("cpu", "memory"):
            if quantity(res["requests"][what]) > quantity(res["limits"][what]):
                problems.append(f"container sluiced: resources.requests.{what} exceeds the limit")
    ref = r.env.get("K8S_CPU_LIMIT", {}).get("valueFrom", {}).get("resourceFieldRef", {})
    if ref.get("resource") != "limits.cpu" or ref.get("containerName", "sluiced") != "sluiced":
        problems.append("env K8S_CPU_LIMIT must be the resourceFieldRef limits.cpu of container sluiced")
    return problems


def pdb_min_available(pdb, replicas):
    spec = pdb["spec"]

    def value(v, round_up):
        if isinstance(v, str) and v.endswith("%"):
            x = int(v[:-1]) * replicas / 100
            return int(-(-x // 1)) if round_up else int(x)
        return int(v)

    if "minAvailable" in spec:
        return value(spec["minAvailable"], True)
    if "maxUnavailable" in spec:
        return replicas - value(spec["maxUnavailable"], True)
    return 0


def check_pdb(r, overlay):
    problems = []
    pdb = r.get("PodDisruptionBudget", "sluice")
    n = r.replicas()
    if not selects(pdb["spec"].get("selector", {}).get("matchLabels"), r.pod_labels):
        problems.append("PodDisruptionBudget/sluice: spec.selector does not select the sluice pods")
    min_available = pdb_min_available(pdb, n)
    quorum = n // 2 + 1
    if n >= 3 and min_available < quorum:
        problems.append(f"PodDisruptionBudget/sluice: minAvailable {min_available} of {n} replicas is below the "
                        f"Raft quorum {quorum}")
    if n - min_available < 1:
        problems.append(f"PodDisruptionBudget/sluice: minAvailable {min_available} of {n} replicas allows no "
                        "eviction at all (node drains would hang)")
    return problems


def check_scheduling(r, overlay):
    problems = []
    spec = r.pod_spec
    anti = spec.get("affinity", {}).get("podAntiAffinity", {})
    spread = spec.get("topologySpreadConstraints", [])
    if not OVERLAYS[overlay]["spread"]:
        if anti or spread:
            problems.append("pod: expected no anti-affinity or topology spread in this overlay")
        return problems
    required = anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    preferred = [t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    if not any(t.get("topologyKey") == "kubernetes.io/hostname" and
               selects(t.get("labelSelector", {}).get("matchLabels"), r.pod_labels) for t in required):
        problems.append("pod: requires no podAntiAffinity on kubernetes.io/hostname selecting the sluice pods")
    if not any(t.get("topologyKey") == "topology.kubernetes.io/zone" and
               selects(t.get("labelSelector", {}).get("matchLabels"), r.pod_labels) for t in required + preferred):
        problems.append("pod: no podAntiAffinity on topology.kubernetes.io/zone selecting the sluice pods")
    if not any(c.get("topologyKey") == "topology.kubernetes.io/zone" and
               selects(c.get("labelSelector", {}).get("matchLabels"), r.pod_labels) for c in spread):
        problems.append("pod: no topologySpreadConstraint on topology.kubernetes.io/zone")
    return problems


def check_scrape(r, overlay):
    problems = []
    ann = r.pod.get("metadata", {}).get("annotations", {})
    if ann.get("prometheus.io/scrape") != "true":
        problems.append("pod template: annotation prometheus.io/scrape must be \"true\"")
    if ann.get("prometheus.io/port") != str(r.listen_port("metrics_listen")):
        problems.append(f"pod template: prometheus.io/port {ann.get('prometheus.io/port')!r} is not metrics_listen's port")
    if r.pod_labels.get("app.kubernetes.io/name") != "sluice":
        problems.append("pod template: label app.kubernetes.io/name=sluice (deploy/prometheus/prometheus.yml keeps "
                        "only those pods)")
    return problems


def check_dashboard(r, overlay):
    problems = []
    cm = r.get("ConfigMap", "sluice-grafana-dashboard")
    if cm["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
        problems.append("ConfigMap/sluice-grafana-dashboard: label grafana_dashboard must be \"1\"")
    with open(os.path.join(ROOT, "deploy", "grafana", "sluice.json")) as f:
        want = f.read()
    got = cm.get("data", {}).get("sluice.json")
    if got is None or json.loads(got) != json.loads(want):
        problems.append("ConfigMap/sluice-grafana-dashboard: data sluice.json differs from deploy/grafana/sluice.json")
    return problems


def check_image(r, overlay):
    image = r.c.get("image", "")
    last = image.rsplit("/", 1)[-1]
    if not re.fullmatch(r"sluiced(:[\w][\w.-]*|@sha256:[0-9a-f]{64})", last):
        return [f"container sluiced: image {image!r}: expected REGISTRY/sluiced:TAG set by the overlay's images:"]
    return []


STRUCTURE = [
    ("objects", check_objects), ("statefulset", check_statefulset), ("cluster_env", check_cluster_env),
    ("headless_service", check_headless_service), ("service_ports", check_service_ports),
    ("probes", check_probes), ("prestop_drain", check_prestop_drain),
    ("config_and_secrets", check_config_and_secrets), ("security", check_security),
    ("resources", check_resources), ("pdb_quorum", check_pdb), ("scheduling", check_scheduling),
    ("scrape_annotations", check_scrape), ("dashboard", check_dashboard), ("image", check_image),
]


# ---------------------------------------------------------------------------------------------
# start.sh with a stand-in sluiced


def run_start_script(r, workdir, env_extra, secrets):
    os.makedirs(workdir, exist_ok=True)
    script = os.path.join(workdir, "start.sh")
    with open(script, "w") as f:
        f.write(r.config_map["data"]["start.sh"])
    fake = os.path.join(workdir, "sluiced")
    with open(fake, "w") as f:
        f.write('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    os.chmod(fake, 0o755)
    secrets_dir = os.path.join(workdir, "secrets")
    os.makedirs(secrets_dir, exist_ok=True)
    for name in secrets:
        with open(os.path.join(secrets_dir, name), "w") as f:
            f.write("x\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SLUICED": fake, "SLUICE_SECRETS_DIR": secrets_dir}
    env.update(env_extra)
    p = subprocess.run(["/bin/sh", script], env=env, capture_output=True, text=True, timeout=30)
    expect(p.returncode == 0, f"start.sh exited {p.returncode}: {p.stderr}")
    return p.stdout.splitlines(), secrets_dir


def case_start_script(r, workdir):
    mount = r.mounts["config"]["mountPath"].rstrip("/")
    problems = []
    args, _ = run_start_script(r, os.path.join(workdir, "plain"), {"K8S_CPU_LIMIT": "4"}, [])
    if args[:2] != ["--config", f"{mount}/sluiced.yaml"]:
        problems.append(f"no secrets: args start {args[:2]}, want --config {mount}/sluiced.yaml")
    if "--threads=4" not in args:
        problems.append(f"K8S_CPU_LIMIT=4: no --threads=4 in {args}")
    if any(a.startswith(("--tls", "--wss", "--password")) for a in args):
        problems.append(f"no secrets: TLS or password flags given anyway: {args}")
    args, sdir = run_start_script(r, os.path.join(workdir, "secrets"), {}, ["tls.crt", "tls.key", "passwd"])
    want = [f"--tls-listen=0.0.0.0:{r.container_port('mqtts')}", f"--wss-listen=0.0.0.0:{r.container_port('wss')}",
            f"--tls-cert-file={sdir}/tls.crt", f"--tls-key-file={sdir}/tls.key",
            f"--password-file={sdir}/passwd", "--no-allow-anonymous"]
    for w in want:
        if w not in args:
            problems.append(f"with sluice-tls and sluice-auth: {w} missing from {args}")
    if any(a.startswith("--threads") for a in args):
        problems.append("K8S_CPU_LIMIT unset: --threads given anyway")
    # The secret file names start.sh reads are the ones the projected volume provides.
    provided = {item["path"] for s in r.volumes["secrets"]["projected"]["sources"]
                for item in s.get("secret", {}).get("items", [])}
    for name in ("tls.crt", "tls.key", "passwd"):
        if name not in provided:
            problems.append(f"volume secrets does not project {name}, which start.sh reads")
    expect_no_problems(problems, "start.sh")


# ---------------------------------------------------------------------------------------------
# kubectl 1.20 renders the same objects


def normalized(objects):
    text = re.sub(r"sluice-config-[a-z0-9]{6,}", "sluice-config-HASH", json.dumps(objects, sort_keys=True))

    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            items = [norm(x) for x in v]
            if items and all(isinstance(x, dict) and "name" in x for x in items):
                items.sort(key=lambda x: str(x["name"]))
            return items
        return v

    return sorted((norm(o) for o in json.loads(text)), key=lambda o: (o["kind"], o["metadata"]["name"]))


def first_difference(a, b, where=""):
    if type(a) is not type(b):
        return f"{where or '/'}: {a!r} vs {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{where}/{k}: only in {'the newer' if k in a else 'the 1.20'} rendering"
            d = first_difference(a[k], b[k], f"{where}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{where}/{i}")
            if d:
                return d
        return None
    return None if a == b else f"{where}: {a!r} vs {b!r}"


# ---------------------------------------------------------------------------------------------
# Negative cases: broken copies of the manifests must fail, naming the object and the field


def copy_tree(dest):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    for part in (("deploy", "k8s"), ("deploy", "grafana")):
        shutil.copytree(os.path.join(ROOT, *part), os.path.join(dest, *part),
                        ignore=shutil.ignore_patterns("node_modules", "BUILD"))
    os.makedirs(os.path.join(dest, "deploy", "image"), exist_ok=True)
    shutil.copy(os.path.join(ROOT, "deploy", "image", "Containerfile"), os.path.join(dest, "deploy", "image"))
    return dest


def mutate(tree, relpath, old, new):
    path = os.path.join(tree, relpath)
    with open(path) as f:
        text = f.read()
    expect(text.count(old) == 1, f"negative case setup: {old!r} occurs {text.count(old)} times in {relpath}")
    with open(path, "w") as f:
        f.write(text.replace(old, new))


NEGATIVE_SCHEMA = [
    # name, file, old, new, every string the error must contain
    ("neg_schema_wrong_type", "deploy/k8s/base/statefulset.yaml", "terminationGracePeriodSeconds: 300",
     'terminationGracePeriodSeconds: "300"',
     ["StatefulSet/sluice", "spec.template.spec.terminationGracePeriodSeconds", "must be integer"]),
    ("neg_schema_unknown_field", "deploy/k8s/base/statefulset.yaml", "readinessProbe:", "readinesProbe:",
     ["StatefulSet/sluice", "spec.template.spec.containers[0].readinesProbe", "unknown field"]),
    ("neg_schema_bad_enum", "deploy/k8s/base/statefulset.yaml", "podManagementPolicy: Parallel",
     "podManagementPolicy: parallel", ["StatefulSet/sluice", "spec.podManagementPolicy", "must be one of"]),
    ("neg_schema_missing_required", "deploy/k8s/base/services.yaml", "    port: 9885\n", "",
     ["Service/sluice-headless", "spec.ports[0]", "required field port"]),
]

NEGATIVE_STRUCTURE = [
    # name, file, old, new, check, string a problem must contain
    ("neg_pdb_below_quorum", "deploy/k8s/overlays/prod/pdb.yaml", "minAvailable: 2", "minAvailable: 1",
     check_pdb, "below the Raft quorum 2"),
    ("neg_headless_not_published", "deploy/k8s/base/services.yaml", "  publishNotReadyAddresses: true\n", "",
     check_headless_service, "publishNotReadyAddresses must be true"),
    ("neg_grace_shorter_than_drain", "deploy/k8s/base/statefulset.yaml", "terminationGracePeriodSeconds: 300",
     "terminationGracePeriodSeconds: 250", check_prestop_drain, "terminationGracePeriodSeconds 250 must exceed"),
    ("neg_service_port_missing", "deploy/k8s/base/services.yaml", "targetPort: wss", "targetPort: wss-tls",
     check_service_ports, "Service/sluice: spec.ports[3].targetPort 'wss-tls' is not a containerPort"),
    ("neg_probe_off_metrics_port", "deploy/k8s/base/statefulset.yaml",
     "path: /readyz\n            port: metrics", "path: /readyz\n            port: mqtt",
     check_probes, "readinessProbe.httpGet.port 'mqtt' is not the metrics port"),
    ("neg_replicas_env_mismatch", "deploy/k8s/overlays/prod/statefulset.yaml", "replicas: 3", "replicas: 5",
     check_cluster_env, "must equal spec.replicas 5"),
]


def negative_schema(kubectl, tree, relpath, old, new, needles):
    mutate(tree, relpath, old, new)
    _, errors = validate(render(kubectl, os.path.join(tree, "deploy", "k8s", "overlays", "prod")))
    expect(errors, "the broken manifest passed schema validation")
    expect(any(all(n in e for n in needles) for e in errors),
           f"no error names {needles}; got:\n  " + "\n  ".join(errors))
    return "rejected: " + next(e for e in errors if all(n in e for n in needles))


def negative_structure(kubectl, tree, relpath, old, new, check, needle):
    mutate(tree, relpath, old, new)
    objects, errors = validate(render(kubectl, os.path.join(tree, "deploy", "k8s", "overlays", "prod")))
    expect(not errors, f"the mutation should stay schema-valid: {errors}")
    problems = check(Rendered(objects), "prod")
    expect(any(needle in p for p in problems), f"expected a problem containing {needle!r}; got {problems}")
    return "rejected: " + next(p for p in problems if needle in p)


# ---------------------------------------------------------------------------------------------


def skip(reason):
    raise Skip(reason)


def main():
    suite = Suite("k8s_manifests")
    kubectls = find_kubectls()
    if not kubectls:
        print(f"SKIPPED: kubectl not found (neither on PATH nor {OLD_KUBECTL}); install it, "
              "e.g. with deploy/k8s/validate/install.sh")
        suite.cases.append(("kubectl", "skipped", "kubectl not found", 0.0))
        suite.finish()
        sys.exit(0)
    work = tmp_dir()
    tree = copy_tree(os.path.join(work, "tree"))  # real files: kustomize refuses symlinks leaving a root
    primary = kubectls[0]
    labels = {k: kubectl_label(k) for k in kubectls}
    renders = {}  # (kubectl, overlay) -> objects

    def case_render_and_validate(kubectl, overlay):
        text = render(kubectl, os.path.join(tree, "deploy", "k8s", "overlays", overlay))
        objects, errors = validate(text)
        expect_no_problems(errors, f"schema validation of overlay {overlay}")
        renders[(kubectl, overlay)] = objects
        return f"{len(objects)} objects valid"

    for overlay in OVERLAYS:
        for k in kubectls:
            suite.run(f"render_validate_{overlay}[{labels[k]}]", case_render_and_validate, k, overlay)
        if "kubectl-1.20" not in labels.values():
            suite.run(f"render_validate_{overlay}[kubectl-1.20]", skip,
                      f"{OLD_KUBECTL} not present (deploy/k8s/validate/install.sh unpacks Debian's "
                      "kubernetes-client there)")

    rendered = {}  # id(objects) -> Rendered, parsed once
    for overlay in OVERLAYS:
        def structural(check, overlay=overlay):
            objects = renders.get((primary, overlay))
            if objects is None:
                raise Failure(f"overlay {overlay} did not render or validate (see render_validate_{overlay})")
            if id(objects) not in rendered:
                rendered[id(objects)] = Rendered(objects)
            expect_no_problems(check(rendered[id(objects)], overlay), f"overlay {overlay}")

        for name, check in STRUCTURE:
            suite.run(f"{name}_{overlay}", structural, check)

    def start_script():
        objects = renders.get((primary, "prod"))
        expect(objects is not None, "overlay prod did not render")
        case_start_script(Rendered(objects), os.path.join(work, "start"))

    suite.run("start_script", start_script)

    for overlay in OVERLAYS:
        def same(overlay=overlay):
            old = [k for k in kubectls if k != primary and labels[k] == "kubectl-1.20"]
            if not old:
                raise Skip(f"needs a second kubectl, 1.20, besides {labels[primary]}")
            a, b = renders.get((primary, overlay)), renders.get((old[0], overlay))
            expect(a is not None and b is not None, "an overlay did not render")
            diff = first_difference(normalized(a), normalized(b))
            expect(diff is None, f"{labels[primary]} and kubectl-1.20 render {overlay} differently: {diff}")

        suite.run(f"same_objects_{overlay}[{labels[primary]}_vs_kubectl-1.20]", same)

    for name, relpath, old, new, needles in NEGATIVE_SCHEMA:
        suite.run(name, lambda *a: negative_schema(primary, copy_tree(os.path.join(work, name)), *a),
                  relpath, old, new, needles)
    for name, relpath, old, new, check, needle in NEGATIVE_STRUCTURE:
        suite.run(name, lambda *a: negative_structure(primary, copy_tree(os.path.join(work, name)), *a),
                  relpath, old, new, check, needle)
    sys.exit(suite.finish())


if __name__ == "__main__":
    main()
