// Package policies is setwarden's policy engine: pure functions over typed
// k8s.io/api objects that return findings with rule IDs, actions, full field
// paths and messages that say how to fix the problem.
//
// The package does no I/O and does not import controller-runtime. The
// admission webhook and the offline CLI are thin adapters over it: they decode
// objects, back the ClusterView with what they know about the cluster, and
// render the Report.
package policies
