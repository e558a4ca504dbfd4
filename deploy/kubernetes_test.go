package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	namespace   = "ayaflow"
	dataDir     = "/var/lib/ayaflow"
	configPath  = "/etc/ayaflow/ayaflow.yaml"
	metricsPort = 9477
)

// decodeStrict reads one manifest into obj and fails on unknown, misspelt
// or duplicate fields, which the API server would drop or reject.
func decodeStrict(t *testing.T, path string, obj any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n---") {
		t.Fatalf("%s: one object per file", path)
	}
	// The API server matches field names case-sensitively, and so does
	// sigs.k8s.io/json; encoding/json (behind yaml.UnmarshalStrict) would
	// accept hostNetWork for hostNetwork.
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, e := range strict {
		t.Errorf("%s: %v", path, e)
	}
	if t.Failed() {
		t.FailNow()
	}
}

func daemonSet(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	var ds appsv1.DaemonSet
	decodeStrict(t, "kubernetes/daemonset.yaml", &ds)
	return &ds
}

// container returns the DaemonSet's only container.
func container(t *testing.T, ds *appsv1.DaemonSet) *corev1.Container {
	t.Helper()
	if n := len(ds.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("want one container, got %d", n)
	}
	if n := len(ds.Spec.Template.Spec.InitContainers); n != 0 {
		t.Fatalf("want no init containers, got %d", n)
	}
	return &ds.Spec.Template.Spec.Containers[0]
}

// flagValue returns the value of --name in args (as "--name v" or
// "--name=v"), and whether it is there exactly once.
func flagValue(args []string, name string) (string, bool) {
	var vals []string
	for i, a := range args {
		switch {
		case a == "--"+name && i+1 < len(args):
			vals = append(vals, args[i+1])
		case strings.HasPrefix(a, "--"+name+"="):
			vals = append(vals, strings.TrimPrefix(a, "--"+name+"="))
		}
	}
	if len(vals) != 1 {
		return "", false
	}
	return vals[0], true
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func volume(ds *appsv1.DaemonSet, name string) *corev1.Volume {
	for i, v := range ds.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &ds.Spec.Template.Spec.Volumes[i]
		}
	}
	return nil
}

// mountFor returns the container's mount whose mountPath holds path.
func mountFor(c *corev1.Container, path string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if path == m.MountPath || strings.HasPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/") {
			if best == nil || len(m.MountPath) > len(best.MountPath) {
				best = &c.VolumeMounts[i]
			}
		}
	}
	return best
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
		Images     []struct {
			Name    string `json:"name"`
			NewName string `json:"newName,omitempty"`
			NewTag  string `json:"newTag,omitempty"`
		} `json:"images"`
	}
	decodeStrict(t, "kubernetes/kustomization.yaml", &k)
	if k.Kind != "Kustomization" || k.Namespace != namespace {
		t.Errorf("kind %q namespace %q, want Kustomization in %s", k.Kind, k.Namespace, namespace)
	}
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	got := slices.Sorted(slices.Values(k.Resources))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources differ from the manifests in kubernetes/ (-want +got):\n%s", diff)
	}
	c := container(t, daemonSet(t))
	image, _, _ := strings.Cut(c.Image, ":")
	if len(k.Images) != 1 || k.Images[0].Name != image {
		t.Errorf("images: want one entry for the DaemonSet's image %q, got %+v", image, k.Images)
	}
}

func TestNamespaceAndServiceAccount(t *testing.T) {
	var ns corev1.Namespace
	decodeStrict(t, "kubernetes/namespace.yaml", &ns)
	if ns.Kind != "Namespace" || ns.Name != namespace {
		t.Errorf("namespace.yaml: %s %q, want Namespace %q", ns.Kind, ns.Name, namespace)
	}
	// baseline and restricted forbid hostNetwork, hostPath and added
	// capabilities: the pods would be rejected.
	if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "privileged" {
		t.Errorf("pod-security enforce level %q, want privileged", got)
	}
	var sa corev1.ServiceAccount
	decodeStrict(t, "kubernetes/serviceaccount.yaml", &sa)
	if sa.Kind != "ServiceAccount" || sa.Namespace != namespace {
		t.Errorf("serviceaccount.yaml: %s in %q", sa.Kind, sa.Namespace)
	}
	if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Error("the ServiceAccount must not automount a token: ayaflow never calls the API")
	}
	ds := daemonSet(t)
	if got := ds.Spec.Template.Spec.ServiceAccountName; got != sa.Name {
		t.Errorf("serviceAccountName %q, want %q", got, sa.Name)
	}
	if p := ds.Spec.Template.Spec.AutomountServiceAccountToken; p == nil || *p {
		t.Error("the pod must set automountServiceAccountToken: false")
	}
}

func TestDaemonSetRunsOnEveryNodeInTheHostNetwork(t *testing.T) {
	ds := daemonSet(t)
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" || ds.Namespace != namespace {
		t.Fatalf("got %s %s in %q, want apps/v1 DaemonSet in %s", ds.APIVersion, ds.Kind, ds.Namespace, namespace)
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork {
		t.Error("hostNetwork must be true: the classifier attaches to the node's interfaces")
	}
	if spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("dnsPolicy %q, want ClusterFirstWithHostNet (cluster DNS for the brokers)", spec.DNSPolicy)
	}
	if spec.HostPID || spec.HostIPC {
		t.Error("hostPID and hostIPC are not needed")
	}
	everything := false
	for _, tol := range spec.Tolerations {
		everything = everything || (tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "")
	}
	if !everything {
		t.Errorf("want a toleration {operator: Exists} so every node runs ayaflow, got %+v", spec.Tolerations)
	}
	sel := ds.Spec.Selector.MatchLabels
	for k, v := range sel {
		if ds.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	if len(sel) == 0 {
		t.Error("empty selector")
	}
}

func TestDaemonSetHasExactlyTheStartChecksCapabilities(t *testing.T) {
	var want []string
	for _, c := range requiredCapabilities(t) {
		want = append(want, strings.TrimPrefix(c, "CAP_"))
	}
	c := container(t, daemonSet(t))
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		t.Fatal("the container has no securityContext.capabilities")
	}
	var add []string
	for _, a := range sc.Capabilities.Add {
		add = append(add, string(a))
	}
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(add))); diff != "" {
		t.Errorf("capabilities.add differs from the start check's set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.Capability{"ALL"}, sc.Capabilities.Drop); diff != "" {
		t.Errorf("capabilities.drop (-want +got):\n%s", diff)
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: true grants every capability and every device: not needed")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Error("runAsUser must be 0: Kubernetes gives added capabilities to root only")
	}
	if p := daemonSet(t).Spec.Template.Spec.SecurityContext; p == nil || p.SeccompProfile == nil ||
		p.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the pod should keep the runtime's default seccomp profile")
	}
}

func TestDaemonSetArgsEnvAndVolumes(t *testing.T) {
	ds := daemonSet(t)
	c := container(t, ds)
	if len(c.Command) != 0 {
		t.Errorf("command %q overrides the image's entrypoint; use args", c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "ship" {
		t.Fatalf("args %q, want them to start with ship", c.Args)
	}

	// NODE_NAME from the downward API.
	if e := envVar(c, "NODE_NAME"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
		t.Errorf("NODE_NAME must come from fieldRef spec.nodeName, got %+v", e)
	}

	// The config file: --config names a file the ConfigMap volume provides.
	cfg, ok := flagValue(c.Args, "config")
	if !ok || cfg != configPath {
		t.Errorf("--config %q, want %s exactly once", cfg, configPath)
	}
	m := mountFor(c, configPath)
	if m == nil {
		t.Fatalf("no volume is mounted at %s", filepath.Dir(configPath))
	}
	if !m.ReadOnly {
		t.Errorf("the config mount %s should be read-only", m.MountPath)
	}
	v := volume(ds, m.Name)
	if v == nil || v.ConfigMap == nil {
		t.Fatalf("volume %q is not a ConfigMap", m.Name)
	}
	var cm corev1.ConfigMap
	decodeStrict(t, "kubernetes/configmap.yaml", &cm)
	if v.ConfigMap.Name != cm.Name || cm.Namespace != namespace {
		t.Errorf("the volume names ConfigMap %q, configmap.yaml defines %q in %q", v.ConfigMap.Name, cm.Name, cm.Namespace)
	}
	// Without items every key is a file; with items only those listed are.
	rel, _ := filepath.Rel(m.MountPath, configPath)
	key := rel
	if len(v.ConfigMap.Items) > 0 {
		i := slices.IndexFunc(v.ConfigMap.Items, func(it corev1.KeyToPath) bool { return it.Path == rel })
		if i < 0 {
			t.Fatalf("the ConfigMap volume's items do not provide %s", rel)
		}
		key = v.ConfigMap.Items[i].Key
	}
	if _, ok := cm.Data[key]; !ok {
		t.Errorf("ConfigMap %s has no key %q for %s", cm.Name, key, configPath)
	}

	// The buffer directory: --data-dir on a writable hostPath.
	dd, ok := flagValue(c.Args, "data-dir")
	if !ok || dd != dataDir {
		t.Errorf("--data-dir %q, want %s exactly once", dd, dataDir)
	}
	m = mountFor(c, dataDir)
	if m == nil || m.MountPath != dataDir || m.ReadOnly {
		t.Fatalf("want a writable mount at %s, got %+v", dataDir, m)
	}
	v = volume(ds, m.Name)
	if v == nil || v.HostPath == nil {
		t.Fatalf("volume %q is not a hostPath: buffered events would not survive a restart", m.Name)
	}
	if v.HostPath.Path != dataDir || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
		t.Errorf("hostPath %+v, want %s DirectoryOrCreate", v.HostPath, dataDir)
	}
	for _, vol := range ds.Spec.Template.Spec.Volumes {
		if vol.HostPath != nil && vol.HostPath.Path != dataDir {
			t.Errorf("unexpected hostPath volume %s (%s): only the buffer directory is needed", vol.Name, vol.HostPath.Path)
		}
	}
}

func TestConfigMapCarriesTheExampleConfig(t *testing.T) {
	var cm corev1.ConfigMap
	decodeStrict(t, "kubernetes/configmap.yaml", &cm)
	want, err := os.ReadFile(exampleConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), cm.Data[filepath.Base(configPath)]); diff != "" {
		t.Errorf("configmap.yaml's ayaflow.yaml differs from %s (-want +got):\n%s", exampleConfigPath, diff)
	}
}

// TestMetricsEndpointIsReachableByProbesAndPrometheus follows the address
// the metrics endpoint binds to: with hostNetwork the kubelet's httpGet
// probes and Prometheus's pod discovery connect to the pod IP (the node's),
// so the endpoint must listen there, on the port both use.
func TestMetricsEndpointIsReachableByProbesAndPrometheus(t *testing.T) {
	ds := daemonSet(t)
	c := container(t, ds)
	addr, ok := flagValue(c.Args, "metrics-addr")
	if !ok {
		t.Fatal("--metrics-addr is not set: the default 127.0.0.1 is unreachable for probes and Prometheus")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--metrics-addr %q: %v", addr, err)
	}
	if port != fmt.Sprint(metricsPort) {
		t.Errorf("--metrics-addr port %s, want %d", port, metricsPort)
	}
	if host != "$(POD_IP)" {
		t.Errorf("--metrics-addr host %q, want $(POD_IP)", host)
	}
	if e := envVar(c, "POD_IP"); e == nil || e.ValueFrom == nil || e.ValueFrom.FieldRef == nil ||
		e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("POD_IP must come from fieldRef status.podIP, got %+v", e)
	}
	// What the kubelet hands ayaflow must be a listen address for either
	// family.
	for _, ip := range []string{"10.0.0.7", "fd00::7"} {
		a := strings.ReplaceAll(addr, "$(POD_IP)", ip)
		h, _, err := net.SplitHostPort(a)
		if err != nil || net.ParseIP(h) == nil {
			t.Errorf("with pod IP %s, --metrics-addr becomes %q, which does not parse: %v", ip, a, err)
		}
	}

	ann := ds.Spec.Template.Annotations
	for k, v := range map[string]string{
		"prometheus.io/scrape": "true", "prometheus.io/port": fmt.Sprint(metricsPort), "prometheus.io/path": "/metrics",
	} {
		if ann[k] != v {
			t.Errorf("pod annotation %s = %q, want %q", k, ann[k], v)
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != metricsPort || c.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ports %+v, want one TCP port %d", c.Ports, metricsPort)
	}
	for name, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
		want := map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"}[name]
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", name)
			continue
		}
		g := p.HTTPGet
		if g.Path != want || g.Port.IntValue() != metricsPort || g.Host != "" {
			t.Errorf("%s: %s on port %s host %q, want %s on %d at the pod IP", name, g.Path, g.Port.String(), g.Host, want, metricsPort)
		}
		if g.Scheme != "" && g.Scheme != corev1.URISchemeHTTP {
			t.Errorf("%s: scheme %s, want HTTP", name, g.Scheme)
		}
	}
}

func TestDaemonSetResourcesAndShutdown(t *testing.T) {
	ds := daemonSet(t)
	c := container(t, ds)
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, ok1 := c.Resources.Requests[r]
		lim, ok2 := c.Resources.Limits[r]
		if !ok1 || !ok2 {
			t.Errorf("%s: want both a request and a limit", r)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", r, req.String(), lim.String())
		}
	}
	// SIGTERM starts a drain bounded by output.shutdown_timeout; the kubelet
	// must not SIGKILL before it ends.
	grace := ds.Spec.Template.Spec.TerminationGracePeriodSeconds
	if grace == nil {
		t.Fatal("terminationGracePeriodSeconds is not set")
	}
	if st := exampleShutdownTimeout(t); time.Duration(*grace)*time.Second <= st {
		t.Errorf("terminationGracePeriodSeconds %d is not above output.shutdown_timeout %s", *grace, st)
	}
}
