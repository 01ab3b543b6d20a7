// Package webhook adapts setwarden's policy engine to Kubernetes admission:
// a mutating handler that adds control-plane tolerations to agent
// DaemonSets, a validating handler for every pod-template workload, a
// cluster view backed by the manager's cache, a hot-reloaded PolicyConfig,
// and admission metrics. Handlers are thin: decode, evaluate, respond.
package webhook
