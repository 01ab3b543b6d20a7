package policies

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rule IDs are public interface: the webhook, the CLI, metrics and docs use them.
const (
	RuleAgentTolerations              = "agent-tolerations"
	RuleTolerationValueFragile        = "toleration-value-fragile"
	RuleStatefulSetServiceName        = "statefulset-service-name"
	RuleStatefulSetServiceHeadless    = "statefulset-service-headless"
	RuleStatefulSetServiceSelector    = "statefulset-service-selector"
	RuleStatefulSetServiceMissing     = "statefulset-service-missing"
	RuleStatefulSetVolumeClaimTmpls   = "statefulset-volume-claim-templates"
	RuleStatefulSetVCTUnused          = "statefulset-volume-claim-template-unused"
	RuleStatefulSetNameTooLong        = "statefulset-name-too-long"
	RuleAffinityInvalid               = "affinity-invalid"
	RuleTolerationInvalid             = "toleration-invalid"
	RuleSelectorTemplateMismatch      = "selector-template-mismatch"
	RuleNodeAffinityUnsatisfiable     = "node-affinity-unsatisfiable"
	RuleNodeAffinityConflictsSelector = "node-affinity-conflicts-node-selector"
	RuleNodeAffinityNoMatchingNodes   = "node-affinity-no-matching-nodes"
	RuleAffinityDeprecatedLabel       = "affinity-deprecated-label"
	RulePodAffinityEmptySelector      = "pod-affinity-empty-selector"
	RulePodAntiAffinityExceedsDomains = "pod-anti-affinity-exceeds-domains"
	RulePodAntiAffinityNotSelf        = "pod-anti-affinity-not-self"
	RuleDaemonSetPodAntiAffinity      = "daemonset-pod-anti-affinity"
	RuleMatchLabelKeysAbsent          = "affinity-match-label-keys-absent"
	RuleTopologyKeyUnknown            = "topology-key-unknown"
	RuleUnknownField                  = "unknown-field"
)

// Needs names the cluster data a rule reads beyond the object itself.
type Needs int

const (
	// NeedsNothing: the rule reads only the object.
	NeedsNothing Needs = iota
	// NeedsService: the rule reads a StatefulSet's governing Service.
	NeedsService
	// NeedsNodes: the rule reads the cluster's Nodes.
	NeedsNodes
)

// CheckFunc inspects one object and returns its violations with full paths.
type CheckFunc func(in *Input) field.ErrorList

// Rule is one entry of the catalogue.
type Rule struct {
	// ID is the stable rule ID.
	ID string
	// Description says in one line what the rule catches.
	Description string
	// DefaultAction applies unless the PolicyConfig says otherwise.
	DefaultAction Action
	// Needs names the cluster data the rule reads; without it the rule is skipped.
	Needs Needs
	// Check returns violations that take the rule's action.
	Check CheckFunc
	// Advise returns violations that are at most warned about.
	Advise CheckFunc
	// Migration, when set, marks a rule over fields that cannot simply be
	// fixed in place: on UPDATE a violation the old object already had is
	// downgraded to Warn (grandfathered), and this text, which says how to
	// migrate, is appended to the message.
	Migration string
	// Mutation marks a rule whose violations the mutating webhook closes:
	// offline they are reported with action Mutate, which `check --fix`
	// applies, instead of the configured action.
	Mutation bool
	// Kinds are the kinds the rule judges; empty means every workload kind
	// (Kinds in kinds.go). Reports list a rule only for its kinds, and
	// an admission policy generated from a rule would match only them.
	Kinds []schema.GroupKind
}

// AppliesTo reports whether the rule judges objects of kind gk.
func (r *Rule) AppliesTo(gk schema.GroupKind) bool {
	return len(r.Kinds) == 0 || slices.Contains(r.Kinds, gk)
}

var (
	statefulSets = []schema.GroupKind{{Group: "apps", Kind: "StatefulSet"}}
	daemonSets   = []schema.GroupKind{{Group: "apps", Kind: "DaemonSet"}}
)

// DocsURL is the base of the rule documentation; each rule has an anchor.
const DocsURL = "https://github.com/setwarden/setwarden/blob/main/README.md"

// Anchor returns the link to the rule's documentation.
func (r *Rule) Anchor() string { return DocsURL + "#" + r.ID }

// Migration texts stand alone: the webhook sends them as the warning of a
// grandfathered finding, within the 256-character budget.
const (
	migrateServiceName = "already missing before this update, so allowed with a warning; spec.serviceName is immutable: delete the StatefulSet with --cascade=orphan and recreate it naming a headless Service"
	migrateService     = "the governing Service already had this problem before this update, so allowed with a warning; fix the Service: clusterIP: None and a selector that matches the pod labels"
	migrateVCT         = "already missing before this update, so allowed with a warning; spec.volumeClaimTemplates is immutable: delete the StatefulSet with --cascade=orphan and recreate it with claim templates"
	migrateName        = "already too long before this update, so allowed with a warning; the name is immutable: recreate the StatefulSet with a name of at most 52 characters"
	migrateAPIInvalid  = "already present before this update, which the API server still accepts, so allowed with a warning; fix it the next time you change this object"
)

// Rules is the rule catalogue, in evaluation and report order.
var Rules = []Rule{
	// Agent DaemonSets must tolerate the control-plane taints (the mutating webhook adds them).
	{ID: RuleAgentTolerations, Kinds: daemonSets, Mutation: true, DefaultAction: ActionDeny, Check: checkAgentTolerationsMissing, Advise: adviseAgentPreferNoScheduleTolerationsMissing,
		Description: "An agent DaemonSet does not tolerate every configured control-plane taint."},
	// Equal tolerations for control-plane role keys break when the taint value differs.
	{ID: RuleTolerationValueFragile, DefaultAction: ActionWarn, Check: checkTolerationValueFragile,
		Description: "A toleration for a control-plane role key matches one fixed value instead of using operator Exists."},
	// StatefulSets need a governing Service for per-pod DNS.
	{ID: RuleStatefulSetServiceName, Kinds: statefulSets, DefaultAction: ActionDeny, Check: checkStatefulSetServiceNameEmpty, Migration: migrateServiceName,
		Description: "A StatefulSet does not name a governing Service in spec.serviceName."},
	// The governing Service must be headless.
	{ID: RuleStatefulSetServiceHeadless, Kinds: statefulSets, DefaultAction: ActionDeny, Needs: NeedsService, Check: checkStatefulSetServiceNotHeadless, Migration: migrateService,
		Description: "A StatefulSet's governing Service is not headless (clusterIP: None)."},
	// The governing Service must select the StatefulSet's pods.
	{ID: RuleStatefulSetServiceSelector, Kinds: statefulSets, DefaultAction: ActionDeny, Needs: NeedsService, Check: checkStatefulSetServiceSelectorMisses, Migration: migrateService,
		Description: "A StatefulSet's governing Service has no selector or does not select the StatefulSet's pods."},
	// The governing Service must exist (it may be created just after the StatefulSet).
	{ID: RuleStatefulSetServiceMissing, Kinds: statefulSets, DefaultAction: ActionWarn, Needs: NeedsService, Check: checkStatefulSetServiceMissing, Migration: migrateService,
		Description: "A StatefulSet's governing Service does not exist."},
	// StatefulSets need volumeClaimTemplates for stable storage.
	{ID: RuleStatefulSetVolumeClaimTmpls, Kinds: statefulSets, DefaultAction: ActionDeny, Check: checkStatefulSetVolumeClaimTemplatesEmpty, Migration: migrateVCT,
		Description: "A StatefulSet has no volumeClaimTemplates."},
	// Every volumeClaimTemplate should be mounted.
	{ID: RuleStatefulSetVCTUnused, Kinds: statefulSets, DefaultAction: ActionWarn, Check: checkStatefulSetVolumeClaimTemplateUnused,
		Description: "A StatefulSet's volumeClaimTemplate is not mounted by any container."},
	// Long names make the pods' controller-revision-hash label invalid.
	{ID: RuleStatefulSetNameTooLong, Kinds: statefulSets, DefaultAction: ActionDeny, Check: checkStatefulSetNameTooLong, Migration: migrateName,
		Description: "A StatefulSet's name is longer than 52 characters, so no pod can ever be created."},
	// Affinity the API server itself would reject.
	{ID: RuleAffinityInvalid, DefaultAction: ActionDeny, Check: checkAffinityInvalid, Migration: migrateAPIInvalid,
		Description: "Affinity that kube-apiserver rejects as invalid."},
	// Tolerations the API server itself would reject.
	{ID: RuleTolerationInvalid, DefaultAction: ActionDeny, Check: checkTolerationInvalid, Migration: migrateAPIInvalid,
		Description: "Tolerations that kube-apiserver rejects as invalid."},
	// Controllers whose selector does not select their own pods, which the API server refuses.
	{ID: RuleSelectorTemplateMismatch, Kinds: selectorKinds, DefaultAction: ActionDeny, Check: checkSelectorTemplateMismatch,
		Description: "A controller's selector does not select its pod template's labels, so kube-apiserver rejects it."},
	// Required node affinity that no node can ever satisfy.
	{ID: RuleNodeAffinityUnsatisfiable, DefaultAction: ActionDeny, Check: checkNodeAffinityUnsatisfiable, Advise: adviseNodeAffinityTermsUnsatisfiable,
		Description: "Node affinity terms whose requirements contradict each other, so no node can match."},
	// nodeSelector and required node affinity that contradict each other.
	{ID: RuleNodeAffinityConflictsSelector, DefaultAction: ActionDeny, Check: checkNodeAffinityConflictsNodeSelector,
		Description: "spec.nodeSelector contradicts every required node affinity term."},
	// Placement that none of the cluster's current nodes accepts.
	{ID: RuleNodeAffinityNoMatchingNodes, DefaultAction: ActionWarn, Needs: NeedsNodes, Check: checkNodeAffinityNoMatchingNodes,
		Description: "No node of the cluster takes the pods: the nodeSelector and required node affinity match none, or every node they match is cordoned or has a taint the pods do not tolerate."},
	// Deprecated node labels in placement.
	{ID: RuleAffinityDeprecatedLabel, DefaultAction: ActionWarn, Check: checkAffinityDeprecatedLabel,
		Description: "Node affinity, nodeSelector or a topologyKey uses a deprecated node label."},
	// Pod (anti-)affinity terms without a useful labelSelector.
	{ID: RulePodAffinityEmptySelector, DefaultAction: ActionDeny, Check: checkPodAffinityEmptySelector, Advise: advisePodAffinityNoSelector,
		Description: "A pod affinity or anti-affinity term has a missing or empty labelSelector."},
	// Required self anti-affinity with more replicas than topology domains.
	{ID: RulePodAntiAffinityExceedsDomains, DefaultAction: ActionWarn, Needs: NeedsNodes, Check: checkPodAntiAffinityExceedsDomains,
		Description: "Required self anti-affinity needs more topology domains than the eligible nodes have."},
	// Replicated workloads whose anti-affinity does not select their own pods.
	{ID: RulePodAntiAffinityNotSelf, DefaultAction: ActionWarn, Check: checkPodAntiAffinityNotSelf,
		Description: "A replicated workload's pod anti-affinity does not select its own pods."},
	// DaemonSets with required anti-affinity against themselves.
	{ID: RuleDaemonSetPodAntiAffinity, Kinds: daemonSets, DefaultAction: ActionWarn, Check: checkDaemonSetPodAntiAffinity,
		Description: "A DaemonSet has required pod anti-affinity against its own pods."},
	// matchLabelKeys/mismatchLabelKeys naming labels the pods will not have.
	{ID: RuleMatchLabelKeysAbsent, DefaultAction: ActionWarn, Check: checkMatchLabelKeysAbsent,
		Description: "matchLabelKeys or mismatchLabelKeys names a label the pods will not have."},
	// topologyKeys no node carries.
	{ID: RuleTopologyKeyUnknown, DefaultAction: ActionWarn, Needs: NeedsNodes, Check: checkTopologyKeyUnknown,
		Description: "A topologyKey that no current node carries."},
	// Unknown and duplicate fields, which the API server drops or refuses before any rule sees the object.
	{ID: RuleUnknownField, DefaultAction: ActionDeny, Check: checkUnknownFields,
		Description: "A field the object's kind does not have (often a misspelling), or a field given twice."},
}

var ruleByID = func() map[string]*Rule {
	m := make(map[string]*Rule, len(Rules))
	for i := range Rules {
		m[Rules[i].ID] = &Rules[i]
	}
	return m
}()

// RuleByID returns the rule with the given ID.
func RuleByID(id string) (*Rule, bool) {
	r, ok := ruleByID[id]
	return r, ok
}

// RuleIDs returns every rule ID in catalogue order.
func RuleIDs() []string {
	ids := make([]string, len(Rules))
	for i := range Rules {
		ids[i] = Rules[i].ID
	}
	return ids
}
