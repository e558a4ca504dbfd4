// Package deploy holds ayaflow's deployment files and the tests that keep
// them honest: the Kubernetes manifests (kubernetes/), the systemd unit
// (systemd/), the Grafana dashboard (grafana/) and the example
// configuration. It has no code of its own; see README.md beside this file.
//
// The tests check what a reviewer would: that the manifests decode into the
// Kubernetes API types without unknown fields, that the DaemonSet and the
// unit grant exactly the capabilities `ayaflow ship` checks for at start,
// that the probes and the Prometheus annotations point at the metrics
// endpoint, that `systemd-analyze verify` accepts the unit, and that every
// dashboard query uses only metrics ayaflow exports.
package deploy
