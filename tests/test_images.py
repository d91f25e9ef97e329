"""Image lists: every SPEC §6 format, detected by content, and clear errors for broken input."""

from __future__ import annotations

import json

import pytest

from pullguard.engine.images import ImageEntry, ImageListError, detect_format, parse_image_list

D1 = "sha256:3f1f8a4e1ad4c5d5ab1fb1bc0d08e7e1c1aabb9ae1e7fcf6b7a04d8c0e5d9f11"
D2 = "sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a"
ID = "sha256:873ed75102791e5b0b8a7fcd41606c92fcec98d56d05ead4ac5131650004c136"


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle` (expected lines found independently)."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]


def tabwriter(rows: list[list[str]]) -> str:
    """Rows laid out as Go's text/tabwriter.NewWriter(w, 0, 0, 3, ' ', 0) does for talosctl:
    every cell but the last of a line padded to its column's widest cell plus three blanks."""
    columns = len(rows[0]) - 1
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(columns)]
    return "".join(
        "".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + r[-1] + "\n"
        for r in rows
    )


PLAIN_TEXT = """\
# production images
nginx:1.25
  ghcr.io/siderolabs/talosctl:v1.13.0   # the CLI

registry.k8s.io/pause:3.10 quay.io/cilium/cilium:v1.17.0
"""

KUBECTL = json.dumps({
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-7d4b9", "namespace": "default"},
         "spec": {"initContainers": [{"name": "migrate", "image": "ghcr.io/acme/migrate:2"}],
                  "containers": [{"name": "nginx", "image": "nginx:1.25"},
                                 {"name": "sidecar", "image": "ghcr.io/acme/proxy@" + D1}],
                  "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36"}]},
         "status": {"containerStatuses": [{"name": "nginx", "image": "docker.io/library/nginx:1.25",
                                           "imageID": "docker.io/library/nginx@" + D2}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "coredns-abc", "namespace": "kube-system"},
         "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.0"}]}},
    ],
    "metadata": {"resourceVersion": ""},
}, indent=4)

MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  template:
    spec:
      initContainers:
        - name: init
          image: ghcr.io/acme/init:1
      containers:
        - name: app
          image: ghcr.io/acme/web:2.0
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {name: job, image: "quay.io/acme/batch:7"}
---
apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db}
    spec:
      template:
        spec:
          containers: [{name: pg, image: postgres:16}]
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent, namespace: kube-system}
    spec:
      template:
        spec:
          containers: [{name: agent, image: "ghcr.io/acme/agent@%s"}]
  - apiVersion: batch/v1
    kind: Job
    metadata: {name: once}
    spec:
      template:
        spec:
          containers: [{name: once, image: alpine:3.20}]
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata: {name: rs}
    spec:
      template:
        spec:
          containers: [{name: c, image: redis:7}]
---
apiVersion: v1
kind: Pod
metadata: {name: lone}
spec:
  containers:
    - name: main
      image: nginx
""" % D1

TALOSCTL = tabwriter([
    ["NODE", "IMAGE", "DIGEST", "SIZE", "LABELS", "CREATED"],
    ["172.20.0.2", "ghcr.io/siderolabs/kubelet:v1.33.1", D1, "31 MB",
     "io.cri-containerd.image=managed,talos.dev/verified=verified via bundle referrer with digest "
     + D1, "2026-04-09T07:23:29Z"],
    ["172.20.0.2", "registry.k8s.io/pause:3.10", D2, "320 kB",
     "io.cri-containerd.image=managed,io.cri-containerd.pinned=pinned", "2026-04-09T07:22:10Z"],
    # containerd names an image by its config digest too; that is not a reference
    ["172.20.0.2", ID, D2, "320 kB", "io.cri-containerd.image=managed", "2026-04-09T07:22:10Z"],
    ["172.20.0.3", "docker.io/library/nginx:1.25", D2, "1.2 MB",
     "talos.dev/verified=verified via legacy signature (bundle verified true)",
     "2026-04-09T07:24:01Z"],
    ["172.20.0.3", "quay.io/cilium/cilium:v1.17.0", D1, "203 MB", "", "2026-04-09T07:25:11Z"],
])

# Talos before the ImageService API (talosctl imageListLegacy): no LABELS column.
TALOSCTL_LEGACY = """\
NODE         IMAGE                                DIGEST                                                                    SIZE     CREATED
172.20.0.2   ghcr.io/siderolabs/kubelet:v1.33.1   sha256:3f1f8a4e1ad4c5d5ab1fb1bc0d08e7e1c1aabb9ae1e7fcf6b7a04d8c0e5d9f11   31 MB    2026-04-09T07:23:29Z
172.20.0.2   registry.k8s.io/pause:3.10           sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a   320 kB   2026-04-09T07:22:10Z
"""  # noqa: E501 (talosctl's own columns, verbatim)

CASES = [
    ("plain", PLAIN_TEXT, "plain", [
        ImageEntry("nginx:1.25", None, 2),
        ImageEntry("ghcr.io/siderolabs/talosctl:v1.13.0", None, 3),
        ImageEntry("registry.k8s.io/pause:3.10", None, 5),
        ImageEntry("quay.io/cilium/cilium:v1.17.0", None, 5),
    ]),
    ("kubectl", KUBECTL, "kubectl-json", [
        # pods.json keeps each image's pod and namespace.
        ImageEntry("ghcr.io/acme/migrate:2", "default/web-7d4b9/migrate",
                   line_of(KUBECTL, '"image": "ghcr.io/acme/migrate:2"'), pod="web-7d4b9", namespace="default"),
        ImageEntry("nginx:1.25", "default/web-7d4b9/nginx", line_of(KUBECTL, '"image": "nginx:1.25"'),
                   pod="web-7d4b9", namespace="default"),
        ImageEntry("ghcr.io/acme/proxy@" + D1, "default/web-7d4b9/sidecar",
                   line_of(KUBECTL, '"image": "ghcr.io/acme/proxy@'), pod="web-7d4b9", namespace="default"),
        ImageEntry("busybox:1.36", "default/web-7d4b9/debugger", line_of(KUBECTL, "busybox"), pod="web-7d4b9", namespace="default"),
        ImageEntry("registry.k8s.io/coredns/coredns:v1.12.0", "kube-system/coredns-abc/coredns",
                   line_of(KUBECTL, "coredns:v1.12.0"), pod="coredns-abc", namespace="kube-system"),
    ]),
    ("manifests", MANIFESTS, "manifests", [
        # A workload's images keep its namespace; only a Pod names the pod.
        ImageEntry("ghcr.io/acme/init:1", "Deployment/shop/web/init", line_of(MANIFESTS, "ghcr.io/acme/init:1"),
                   namespace="shop"),
        ImageEntry("ghcr.io/acme/web:2.0", "Deployment/shop/web/app", line_of(MANIFESTS, "ghcr.io/acme/web:2.0"),
                   namespace="shop"),
        ImageEntry("quay.io/acme/batch:7", "CronJob/nightly/job", line_of(MANIFESTS, "quay.io/acme/batch:7")),
        ImageEntry("postgres:16", "StatefulSet/db/pg", line_of(MANIFESTS, "postgres:16")),
        ImageEntry("ghcr.io/acme/agent@" + D1, "DaemonSet/kube-system/agent/agent",
                   line_of(MANIFESTS, "ghcr.io/acme/agent@"), namespace="kube-system"),
        ImageEntry("alpine:3.20", "Job/once/once", line_of(MANIFESTS, "alpine:3.20")),
        ImageEntry("redis:7", "ReplicaSet/rs/c", line_of(MANIFESTS, "redis:7")),
        ImageEntry("nginx", "lone/main", line_of(MANIFESTS, "image: nginx"), pod="lone"),
    ]),
    ("talosctl", TALOSCTL, "talosctl", [
        ImageEntry("ghcr.io/siderolabs/kubelet:v1.33.1", "172.20.0.2", 2, True, "172.20.0.2",
                   "verified via bundle referrer with digest " + D1),
        ImageEntry("registry.k8s.io/pause:3.10", "172.20.0.2", 3, False, "172.20.0.2", None),
        ImageEntry("docker.io/library/nginx:1.25", "172.20.0.3", 5, True, "172.20.0.3",
                   "verified via legacy signature (bundle verified true)"),
        ImageEntry("quay.io/cilium/cilium:v1.17.0", "172.20.0.3", 6, False, "172.20.0.3", None),
    ]),
    ("talosctl-legacy", TALOSCTL_LEGACY, "talosctl", [
        ImageEntry("ghcr.io/siderolabs/kubelet:v1.33.1", "172.20.0.2", 2, None, "172.20.0.2"),
        ImageEntry("registry.k8s.io/pause:3.10", "172.20.0.2", 3, None, "172.20.0.2"),
    ]),
]


@pytest.mark.parametrize("text,fmt,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_formats(text, fmt, expected):
    assert detect_format(text) == fmt
    assert parse_image_list(text, "list.txt") == expected


@pytest.mark.parametrize("text,fmt,images", [
    ("", "plain", []),
    ("# nothing yet\n\n", "plain", []),
    ("\ufeffnginx\r\nalpine\r\n", "plain", ["nginx", "alpine"]),
    # a single pod from `kubectl get pod x -o json`
    (json.dumps({"kind": "Pod", "metadata": {"name": "p"},
                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
     "kubectl-json", ["nginx"]),
    # JSON manifests (a Deployment), not kubectl's List of Pods
    (json.dumps({"kind": "Deployment", "metadata": {"name": "d"},
                 "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x/y:1"}]}}}}),
     "manifests", ["x/y:1"]),
    # JSON that libyaml would refuse (a tab before a value): still read, without lines
    ('{"kind": "Pod", "spec": {"containers": [{"name": "c", "image":\t"nginx"}]}}',
     "kubectl-json", ["nginx"]),
    # an empty List, and documents without pods
    ('{"apiVersion": "v1", "kind": "List", "items": []}', "kubectl-json", []),
    ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n", "manifests", []),
    ("---\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers: [{image: a/b}]\n", "manifests",
     ["a/b"]),
    # several talosctl outputs pasted one after the other
    (TALOSCTL_LEGACY + TALOSCTL_LEGACY, "talosctl", ["ghcr.io/siderolabs/kubelet:v1.33.1",
                                                     "registry.k8s.io/pause:3.10"] * 2),
])
def test_format_edges(text, fmt, images):
    assert detect_format(text) == fmt
    assert [e.image for e in parse_image_list(text)] == images


@pytest.mark.parametrize("text,fmt,location,words", [
    ('{"kind": "List", "items": [\n  {"kind": "Pod",}\n]}', "kubectl-json", "pods.json:2:18",
     "invalid JSON"),
    ('[{"kind": "Pod"', "manifests", "pods.json:1:16", "invalid JSON"),
    ("apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n", "manifests", "pods.json:5:1",
     "YAML syntax error"),
    ("apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: a\n      image: {x: 1}\n",
     "manifests", "pods.json:6:14", "'image' must be a string"),
    ("apiVersion: v1\nkind: Pod\nspec:\n  containers: nginx\n", "manifests", "pods.json:4:15",
     "'containers' must be a list"),
    ("apiVersion: v1\nkind: List\nitems: 3\n", "manifests", "pods.json:3:8",
     "'items' must be a list"),
    ("apiVersion: v1\n---\n- a\n- b\n", "manifests", "pods.json:3:3",
     "expected a Kubernetes object"),
    ("NODE   IMAGE   DIGEST   SIZE   CREATED\n10.0.0.1   nginx   sha256:x   1 MB   now\n",
     "talosctl", "pods.json:2:7", "does not line up"),
])
def test_malformed(text, fmt, location, words):
    assert detect_format(text) == fmt
    with pytest.raises(ImageListError) as info:
        parse_image_list(text, "pods.json")
    message = str(info.value)
    assert message.startswith(location + ": "), message
    assert words in message


def test_error_is_value_error_with_parts():
    with pytest.raises(ValueError) as info:
        parse_image_list('{"items": [}', "x.json")
    err = info.value
    assert isinstance(err, ImageListError)
    assert (err.origin, err.line, err.column) == ("x.json", 1, 12)


def test_order_and_duplicates_are_kept():
    text = "b\na\nb\n"
    assert [e.image for e in parse_image_list(text)] == ["b", "a", "b"]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PIECES = st.sampled_from([
    "{", "}", "[", "]", '"kind": "List"', '"items": ', '"kind": "Pod"', "apiVersion: v1\n",
    "kind: Pod\n", "spec:\n", "  containers:\n", "    - image: ", "nginx", "\n", "---\n", ": ",
    "NODE   IMAGE   DIGEST   SIZE   CREATED\n", "   ", "#", "\t", ",", "\x00", "é",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=20).map("".join))
def test_random_input_gives_entries_or_image_list_error(text):
    try:
        entries = parse_image_list(text, "fuzz.txt")
    except ImageListError as err:
        assert str(err).startswith("fuzz.txt")
        return
    assert all(isinstance(e.image, str) for e in entries)


@pytest.mark.parametrize("text,location,words", [
    ('{"kind": "Pod", "spec": {"containers": [\n  {"name": "a", "image": 5}\n]}}', "j.json:2:26",
     "'image' must be a string, found a number"),
    ('{"kind": "Pod", "spec": {"containers": {"name": "a"}}}', "j.json", "'containers' must be a list"),
    ('{"kind": "List", "items": 7}', "j.json", "'items' must be a list"),
    ("[1]", "j.json", "expected a Kubernetes object, found a number"),
    ("[" * 100000, "j.json", "invalid JSON"),
])
def test_malformed_json_objects(text, location, words):
    with pytest.raises(ImageListError) as info:
        parse_image_list(text, "j.json")
    message = str(info.value)
    assert message.startswith(location + ":"), message
    assert words in message


def test_json_lines_survive_image_keys_inside_strings():
    pod = {"kind": "Pod", "metadata": {"name": "p", "annotations": {"a": '"image": "fake"'}},
           "spec": {"containers": [{"name": "c", "image": "ghcr.io/org/app:1"}]},
           "status": {"containerStatuses": [{"image": "docker.io/x"}]}}
    text = json.dumps(pod, indent=2)
    [entry] = parse_image_list(text)
    assert entry.line == line_of(text, '"image": "ghcr.io/org/app:1"')
