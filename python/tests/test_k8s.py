"""deploy/k8s (issue 14, item 5): every manifest passes an offline schema validator
(``kubernetes-validate``, installed into .venv by scripts/install.sh), and the set has what running a
seed plus N nodes needs. Nothing here talks to a cluster."""

import os
import unittest

K8S = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "k8s")
# the oldest and newest Kubernetes versions the manifests are checked against
VERSIONS = ("1.29.0", "1.37.0")

try:
    import kubernetes_validate
    import yaml
except ImportError:  # pragma: no cover - depends on the environment
    kubernetes_validate = None


def _manifests():
    return sorted(os.path.join(K8S, f) for f in os.listdir(K8S) if f.endswith((".yaml", ".yml")))


def _docs():
    out = []
    for path in _manifests():
        with open(path) as f:
            out.extend((os.path.basename(path), d) for d in yaml.safe_load_all(f) if d)
    return out


@unittest.skipIf(
    kubernetes_validate is None,
    "SKIPPED: kubernetes-validate is not installed (scripts/install.sh installs it into .venv); "
    "the manifests in deploy/k8s were not validated",
)
class Manifests(unittest.TestCase):
    def test_every_manifest_is_valid_offline(self):
        self.assertTrue(_manifests(), "no manifests in deploy/k8s")
        for name, doc in _docs():
            for version in VERSIONS:
                with self.subTest(file=name, kind=doc.get("kind"), version=version):
                    try:
                        kubernetes_validate.validate(doc, version, strict=True)
                    except kubernetes_validate.ValidationError as e:
                        self.fail("%s %s/%s against %s: %s at %s" % (
                            name, doc.get("kind"), doc["metadata"]["name"], version, e.message,
                            "/".join(str(p) for p in e.path)))

    def test_the_validator_refuses_a_broken_manifest(self):
        import copy
        (doc,) = [d for _, d in _docs() if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "enigma"]
        bad = copy.deepcopy(doc)
        bad["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {"cpu": "1"}  # a typo
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)
        bad = copy.deepcopy(doc)
        bad["spec"]["replicas"] = "four"
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(bad, VERSIONS[-1], strict=True)

    def test_a_seed_and_nodes_with_a_volume_probes_and_limits_each(self):
        docs = [d for _, d in _docs()]
        services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
        sets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
        self.assertEqual(services["enigma"]["spec"]["clusterIP"], "None", "the headless Service")
        self.assertEqual(set(sets), {"enigma-seed", "enigma"})
        self.assertEqual(sets["enigma-seed"]["spec"]["replicas"], 1)
        for name, s in sets.items():
            spec = s["spec"]
            self.assertEqual(spec["serviceName"], "enigma", name)
            self.assertTrue(spec["volumeClaimTemplates"], name)
            pod = spec["template"]["spec"]
            labels = spec["template"]["metadata"]["labels"]
            self.assertEqual(spec["selector"]["matchLabels"], labels, name)
            (c,) = pod["containers"]
            self.assertTrue({"requests", "limits"} <= set(c["resources"]), name)
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                self.assertEqual(c[probe]["httpGet"], {"path": "/healthz", "port": "metrics", "scheme": "HTTPS"}, name)
            self.assertEqual(ports["metrics"], 9100, name)
            # the dashboard listens off loopback (the kubelet probes the pod IP), so it needs the token
            args = c["args"]
            self.assertEqual(args[args.index("--dashboard") + 1], "0.0.0.0:%d" % ports["metrics"], name)
            self.assertEqual(args[args.index("--rpc-token-file") + 1], "/secrets/token", name)
            self.assertIn("--dashboard-tls", args, "the token does not cross the cluster network in the clear")
            mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
            self.assertEqual(mounts, {"data": "/data", "token": "/secrets"}, name)
            (vol,) = pod["volumes"]
            self.assertEqual(vol["secret"]["secretName"], "enigma-token", name)
            env = {e["name"]: e["value"] for e in c["env"]}
            self.assertEqual(env["ENIGMA_SOCKET"], "/data/enigma.sock", "kubectl exec … /enigma status")
        # the seed Service selects the seed pod only, and the nodes join the seed by its DNS name
        # (pod enigma-seed-0 of the headless Service enigma), which the node resolves itself
        seed_labels = sets["enigma-seed"]["spec"]["template"]["metadata"]["labels"]
        selector = services["enigma-seed"]["spec"]["selector"]
        self.assertTrue(all(seed_labels.get(k) == v for k, v in selector.items()))
        node_labels = sets["enigma"]["spec"]["template"]["metadata"]["labels"]
        self.assertFalse(all(node_labels.get(k) == v for k, v in selector.items()), "the seed Service selects nodes")
        seed_name = "%s-0.%s" % (sets["enigma-seed"]["metadata"]["name"], services["enigma"]["metadata"]["name"])
        self.assertEqual(sets["enigma"]["spec"]["template"]["spec"]["containers"][0]["args"][:2], [seed_name, "6655"])
        self.assertEqual(sets["enigma-seed"]["spec"]["template"]["spec"]["containers"][0]["args"][0], "6655")
        self.assertTrue(services["enigma"]["spec"]["publishNotReadyAddresses"], "the seed's name resolves before it is ready")
        metrics = {p["name"]: p["port"] for p in services["enigma"]["spec"]["ports"]}
        self.assertEqual(metrics.get("metrics"), 9100)
        # the Services are applied before the pods (kubectl apply -f takes files in order)
        files = [os.path.basename(p) for p in _manifests()]
        self.assertLess(files.index("00-services.yaml"), files.index("20-nodes.yaml"))


if __name__ == "__main__":
    unittest.main()
