package policies

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	// ConfigAPIVersion is the apiVersion of the PolicyConfig document.
	ConfigAPIVersion = "setwarden.dev/v1alpha1"
	// ConfigKind is the kind of the PolicyConfig document.
	ConfigKind = "PolicyConfig"
	// DefaultAgentLabel marks a DaemonSet as a node agent by default.
	DefaultAgentLabel = "setwarden.dev/agent"
	// DefaultNamespace is setwarden's own namespace unless configured.
	DefaultNamespace = "setwarden-system"
	// ExemptAnnotation lists the rule IDs (or "*") an object is exempt from.
	ExemptAnnotation = "setwarden.dev/exempt"
	// ExemptReasonAnnotation must explain an annotation exemption.
	ExemptReasonAnnotation = "setwarden.dev/exempt-reason"
)

// FeatureGateTaintTolerationComparisonOperators lets tolerations use the Lt
// and Gt operators (an alpha gate of kube-apiserver, off by default).
const FeatureGateTaintTolerationComparisonOperators = "TaintTolerationComparisonOperators"

// FeatureGateNames are the feature gates a PolicyConfig may set.
var FeatureGateNames = []string{FeatureGateTaintTolerationComparisonOperators}

// Config is the PolicyConfig document shared by the webhook and the CLI.
type Config struct {
	metav1.TypeMeta `json:",inline"`
	// Agents selects the DaemonSets that must run on control-plane nodes.
	Agents AgentsConfig `json:"agents,omitempty"`
	// ControlPlaneTaints are the taints agent DaemonSets must tolerate.
	ControlPlaneTaints []TaintConfig `json:"controlPlaneTaints,omitempty"`
	// Rules overrides the action of rules by ID.
	Rules map[string]RuleConfig `json:"rules,omitempty"`
	// Exemptions lists what is exempt from every rule.
	Exemptions ExemptionsConfig `json:"exemptions,omitempty"`
	// FeatureGates are the kube-apiserver feature gates the cluster enables
	// beyond their defaults, so that the rules that port the API server's
	// validation accept what it accepts. Only the gates in FeatureGateNames
	// may be set.
	FeatureGates map[string]bool `json:"featureGates,omitempty"`

	agentSelector labels.Selector
}

// AgentsConfig selects agent DaemonSets by their own labels or namespace.
type AgentsConfig struct {
	// Selector matches the DaemonSet object's labels. Omitted (or null), it
	// is matchLabels {setwarden.dev/agent: "true"}; an empty selector {}
	// matches every DaemonSet, as label selectors do elsewhere.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Namespaces makes every DaemonSet in them an agent.
	Namespaces []string `json:"namespaces,omitempty"`
}

// TaintConfig is a taint, by key and effect, whatever its value.
type TaintConfig struct {
	Key    string             `json:"key"`
	Effect corev1.TaintEffect `json:"effect"`
}

// RuleConfig sets a rule's action, with per-namespace overrides.
type RuleConfig struct {
	Action     Action            `json:"action,omitempty"`
	Namespaces map[string]Action `json:"namespaces,omitempty"`
}

// ExemptionsConfig says which namespaces and annotations exempt objects.
type ExemptionsConfig struct {
	// Namespaces are exempt from every rule, besides AlwaysExemptNamespaces.
	Namespaces []string `json:"namespaces,omitempty"`
	// AllowAnnotations lets objects exempt themselves with the
	// setwarden.dev/exempt annotation. Defaults to true.
	AllowAnnotations *bool `json:"allowAnnotations,omitempty"`
	// Objects exempt single objects by kind, namespace and name
	// (objectexemptions.go).
	Objects []ObjectExemption `json:"objects,omitempty"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() *Config {
	c := &Config{}
	c.setDefaults()
	c.agentSelector, _ = metav1.LabelSelectorAsSelector(c.Agents.Selector)
	return c
}

func (c *Config) setDefaults() {
	if c.APIVersion == "" && c.Kind == "" {
		c.APIVersion, c.Kind = ConfigAPIVersion, ConfigKind
	}
	if c.Agents.Selector == nil {
		c.Agents.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{DefaultAgentLabel: "true"}}
	}
	if c.ControlPlaneTaints == nil {
		c.ControlPlaneTaints = []TaintConfig{
			{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule},
		}
	}
	if c.Exemptions.AllowAnnotations == nil {
		allow := true
		c.Exemptions.AllowAnnotations = &allow
	}
}

// ParseConfig reads a PolicyConfig document (or the chart's ConfigMap that
// holds one), applies the defaults and validates it. An unknown key is an
// error. The returned error lists every problem with the full path of the
// offending key.
func ParseConfig(data []byte) (*Config, error) {
	c := &Config{}
	data, err := configDocument(data)
	if err != nil {
		return nil, fmt.Errorf("invalid PolicyConfig: %w", err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("invalid PolicyConfig: %w", err)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(js, c)
	if err != nil {
		return nil, fmt.Errorf("invalid PolicyConfig: %w", err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("invalid PolicyConfig: %w", errors.Join(strictErrs...))
	}
	c.setDefaults()
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("invalid PolicyConfig: %w", errs.ToAggregate())
	}
	return c, nil
}

// Validate checks the configuration and compiles the agent selector.
func (c *Config) Validate() field.ErrorList {
	allErrs := field.ErrorList{}
	if c.APIVersion != ConfigAPIVersion {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("apiVersion"), c.APIVersion, []string{ConfigAPIVersion}))
	}
	if c.Kind != ConfigKind {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("kind"), c.Kind, []string{ConfigKind}))
	}
	agentsPath := field.NewPath("agents")
	allErrs = append(allErrs, metav1validation.ValidateLabelSelector(c.Agents.Selector,
		metav1validation.LabelSelectorValidationOptions{}, agentsPath.Child("selector"))...)
	allErrs = append(allErrs, validateNamespaceNames(c.Agents.Namespaces, agentsPath.Child("namespaces"))...)
	allErrs = append(allErrs, validateTaintConfigs(c.ControlPlaneTaints, field.NewPath("controlPlaneTaints"))...)
	allErrs = append(allErrs, validateRuleConfigs(c.Rules, field.NewPath("rules"))...)
	allErrs = append(allErrs, validateNamespaceNames(c.Exemptions.Namespaces, field.NewPath("exemptions", "namespaces"))...)
	allErrs = append(allErrs, validateObjectExemptions(c.Exemptions.Objects, field.NewPath("exemptions", "objects"))...)
	for _, gate := range slices.Sorted(maps.Keys(c.FeatureGates)) {
		if !slices.Contains(FeatureGateNames, gate) {
			allErrs = append(allErrs, field.NotSupported(field.NewPath("featureGates").Key(gate), gate, FeatureGateNames))
		}
	}
	if len(allErrs) == 0 {
		sel, err := metav1.LabelSelectorAsSelector(c.Agents.Selector)
		if err != nil {
			allErrs = append(allErrs, field.Invalid(agentsPath.Child("selector"), c.Agents.Selector, err.Error()))
		}
		c.agentSelector = sel
	}
	return allErrs
}

func validateNamespaceNames(names []string, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for i, ns := range names {
		for _, msg := range apimachineryvalidation.ValidateNamespaceName(ns, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), ns, msg))
		}
	}
	return allErrs
}

func validateTaintConfigs(taints []TaintConfig, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	effects := []string{string(corev1.TaintEffectNoSchedule), string(corev1.TaintEffectPreferNoSchedule), string(corev1.TaintEffectNoExecute)}
	for i, t := range taints {
		idxPath := fldPath.Index(i)
		allErrs = append(allErrs, metav1validation.ValidateLabelName(t.Key, idxPath.Child("key"))...)
		if !slices.Contains(effects, string(t.Effect)) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("effect"), t.Effect, effects))
		}
	}
	return allErrs
}

func validateRuleConfigs(rules map[string]RuleConfig, fldPath *field.Path) field.ErrorList {
	allErrs := field.ErrorList{}
	for _, id := range slices.Sorted(maps.Keys(rules)) {
		rc, idPath := rules[id], fldPath.Key(id)
		if _, ok := ruleByID[id]; !ok {
			allErrs = append(allErrs, unknownRuleError(idPath, id))
			continue
		}
		if rc.Action != "" {
			allErrs = append(allErrs, validateAction(rc.Action, idPath.Child("action"))...)
		}
		for _, ns := range slices.Sorted(maps.Keys(rc.Namespaces)) {
			nsPath := idPath.Child("namespaces").Key(ns)
			for _, msg := range apimachineryvalidation.ValidateNamespaceName(ns, false) {
				allErrs = append(allErrs, field.Invalid(nsPath, ns, msg))
			}
			allErrs = append(allErrs, validateAction(rc.Namespaces[ns], nsPath)...)
		}
	}
	return allErrs
}

func validateAction(a Action, fldPath *field.Path) field.ErrorList {
	if !slices.Contains(configurableActions, string(a)) {
		return field.ErrorList{field.NotSupported(fldPath, a, configurableActions)}
	}
	return nil
}

// ActionFor returns the configured action of a rule for a namespace.
func (c *Config) ActionFor(rule *Rule, namespace string) Action {
	rc, ok := c.Rules[rule.ID]
	if !ok {
		return rule.DefaultAction
	}
	if a, ok := rc.Namespaces[namespace]; ok {
		return a
	}
	if rc.Action != "" {
		return rc.Action
	}
	return rule.DefaultAction
}

// IsAgent reports whether a DaemonSet is a node agent: its own labels match
// the agent selector, or it lives in an agent namespace.
func (c *Config) IsAgent(meta *metav1.ObjectMeta) bool {
	if slices.Contains(c.Agents.Namespaces, meta.Namespace) {
		return true
	}
	// An empty selector matches every DaemonSet, as label selectors do elsewhere.
	return c.agentSelector != nil && c.agentSelector.Matches(labels.Set(meta.Labels))
}
