package policies

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// engineView is a ClusterView over fixed Services; nodes nil means unknown.
type engineView struct {
	services []*corev1.Service
	nodes    []*corev1.Node
}

func (v engineView) Service(_ context.Context, ns, name string) (*corev1.Service, bool, error) {
	for _, s := range v.services {
		if s.Namespace == ns && s.Name == name {
			return s, true, nil
		}
	}
	return nil, false, nil
}

func (v engineView) Nodes(context.Context) ([]*corev1.Node, error) {
	if v.nodes == nil {
		return nil, ErrNoData
	}
	return v.nodes, nil
}

// summary reduces findings to "rule action field" lines for comparison.
func summary(findings []Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, fmt.Sprintf("%s %s %s", f.Rule, f.Action, f.Err.Field))
	}
	return out
}

func mustConfig(t *testing.T, doc string) *Config {
	t.Helper()
	cfg, err := ParseConfig([]byte("apiVersion: setwarden.dev/v1alpha1\nkind: PolicyConfig\n" + doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestEvaluate(t *testing.T) {
	broken := func() *appsv1.StatefulSet {
		s := redisStatefulSet()
		s.Spec.ServiceName, s.Spec.VolumeClaimTemplates = "", nil
		return s
	}
	withAnnotations := func(kv ...string) *appsv1.StatefulSet {
		s := broken()
		s.Annotations = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
		return s
	}
	both := []string{"statefulset-service-name Deny spec.serviceName", "statefulset-volume-claim-templates Deny spec.volumeClaimTemplates"}
	tests := []struct {
		name         string
		config       string
		req          Request
		wantFindings []string
		wantExempted []string
		wantSkipped  []string
		wantNotices  []string
	}{
		{
			name:         "every violation is collected, not only the first",
			req:          Request{Object: broken(), View: engineView{}},
			wantFindings: both,
			wantSkipped:  []string{RuleNodeAffinityNoMatchingNodes, RulePodAntiAffinityExceedsDomains, RuleTopologyKeyUnknown},
		},
		{
			name:         "a valid StatefulSet with its headless Service has no findings",
			req:          Request{Object: redisStatefulSet(), View: engineView{services: []*corev1.Service{headlessService()}, nodes: []*corev1.Node{}}},
			wantFindings: nil,
		},
		{
			name:         "without Service data the Service rules are skipped, not guessed",
			req:          Request{Object: redisStatefulSet()},
			wantSkipped:  []string{RuleStatefulSetServiceHeadless, RuleStatefulSetServiceSelector, RuleStatefulSetServiceMissing, RuleNodeAffinityNoMatchingNodes, RulePodAntiAffinityExceedsDomains, RuleTopologyKeyUnknown},
			wantFindings: nil,
		},
		{
			name:         "a missing Service warns by default",
			req:          Request{Object: redisStatefulSet(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"statefulset-service-missing Warn spec.serviceName"},
		},
		{
			name:         "the config can make a missing Service deny",
			config:       "rules:\n  statefulset-service-missing: {action: Deny}\n",
			req:          Request{Object: redisStatefulSet(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"statefulset-service-missing Deny spec.serviceName"},
		},
		{
			name:         "a per-namespace override wins over the rule's action",
			config:       "rules:\n  statefulset-volume-claim-templates:\n    action: Deny\n    namespaces: {data: Audit}\n",
			req:          Request{Object: broken(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"statefulset-service-name Deny spec.serviceName", "statefulset-volume-claim-templates Audit spec.volumeClaimTemplates"},
		},
		{
			name:         "a rule switched Off is not evaluated",
			config:       "rules:\n  statefulset-service-name: {action: Off}\n",
			req:          Request{Object: broken(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"statefulset-volume-claim-templates Deny spec.volumeClaimTemplates"},
		},
		{
			name: "an object in an exempt namespace is exempt from every rule, and counted",
			req: Request{Object: func() *appsv1.StatefulSet {
				s := broken()
				s.Namespace = metav1.NamespaceSystem
				return s
			}(), View: engineView{nodes: []*corev1.Node{}}},
			wantExempted: both,
		},
		{
			name:         "a valid exemption annotation with a reason exempts the named rule",
			req:          Request{Object: withAnnotations(ExemptAnnotation, " statefulset-volume-claim-templates ", ExemptReasonAnnotation, "cache, data is disposable"), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: both[:1],
			wantExempted: both[1:],
		},
		{
			name:         "a star exempts every rule",
			req:          Request{Object: withAnnotations(ExemptAnnotation, "*", ExemptReasonAnnotation, "legacy"), View: engineView{nodes: []*corev1.Node{}}},
			wantExempted: both,
		},
		{
			name:         "an exemption annotation without a reason exempts nothing and says why",
			req:          Request{Object: withAnnotations(ExemptAnnotation, "statefulset-volume-claim-templates"), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: both,
			wantNotices:  []string{"annotation setwarden.dev/exempt is ignored: set a non-empty setwarden.dev/exempt-reason annotation that explains the exemption"},
		},
		{
			name:         "an exemption annotation with a blank reason exempts nothing",
			req:          Request{Object: withAnnotations(ExemptAnnotation, "*", ExemptReasonAnnotation, "  "), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: both,
			wantNotices:  []string{"annotation setwarden.dev/exempt is ignored: set a non-empty setwarden.dev/exempt-reason annotation that explains the exemption"},
		},
		{
			name:         "an unknown rule ID in the annotation is a notice",
			req:          Request{Object: withAnnotations(ExemptAnnotation, "statefulset-volume-claim-templates,no-such-rule", ExemptReasonAnnotation, "cache"), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: both[:1],
			wantExempted: both[1:],
			wantNotices:  []string{`annotation setwarden.dev/exempt names unknown rule "no-such-rule"; it exempts nothing (valid IDs: ` + strings.Join(RuleIDs(), ", ") + ")"},
		},
		{
			name:         "the config can forbid annotation exemptions",
			config:       "exemptions:\n  allowAnnotations: false\n",
			req:          Request{Object: withAnnotations(ExemptAnnotation, "*", ExemptReasonAnnotation, "legacy"), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: both,
			wantNotices:  []string{"annotation setwarden.dev/exempt is ignored: the PolicyConfig forbids annotation exemptions"},
		},
		{
			name:         "on UPDATE a violation the old object already had is downgraded to Warn",
			req:          Request{Object: broken(), OldObject: broken(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"statefulset-service-name Warn spec.serviceName", "statefulset-volume-claim-templates Warn spec.volumeClaimTemplates"},
		},
		{
			name: "on UPDATE a violation the update introduces keeps its action",
			req: Request{Object: broken(), OldObject: func() *appsv1.StatefulSet {
				s := broken()
				s.Spec.VolumeClaimTemplates = redisStatefulSet().Spec.VolumeClaimTemplates
				return s
			}(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"statefulset-service-name Warn spec.serviceName", "statefulset-volume-claim-templates Deny spec.volumeClaimTemplates"},
		},
		{
			name:         "offline, a missing agent toleration is reported as Mutate",
			req:          Request{Object: agentDaemonSet(), Mode: ModeOffline, View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"agent-tolerations Mutate spec.template.spec.tolerations", "agent-tolerations Mutate spec.template.spec.tolerations"},
		},
		{
			name:         "in admission, a missing agent toleration means the mutation did not run, and is denied",
			req:          Request{Object: agentDaemonSet(), View: engineView{nodes: []*corev1.Node{}}},
			wantFindings: []string{"agent-tolerations Deny spec.template.spec.tolerations", "agent-tolerations Deny spec.template.spec.tolerations"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.config != "" {
				cfg = mustConfig(t, tt.config)
			}
			r := NewEngine(cfg).Evaluate(t.Context(), tt.req)
			if !r.Applicable {
				t.Fatal("report not applicable")
			}
			if diff := cmp.Diff(tt.wantFindings, summary(r.Findings)); diff != "" {
				t.Errorf("findings differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantExempted, summary(r.Exempted)); diff != "" {
				t.Errorf("exempted differ (-want +got):\n%s", diff)
			}
			var skipped []string
			for _, s := range r.Skipped {
				skipped = append(skipped, s.Rule)
			}
			if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotices, r.Notices); diff != "" {
				t.Errorf("notices differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateGrandfatheredMessageSaysHowToMigrate(t *testing.T) {
	s := redisStatefulSet()
	s.Spec.ServiceName = ""
	r := NewEngine(nil).Evaluate(t.Context(), Request{Object: s, OldObject: s.DeepCopy(), View: engineView{nodes: []*corev1.Node{}}})
	want := "spec.serviceName: Required value: set it to a headless Service (clusterIP: None) that selects the pods, so each pod gets a stable DNS name; " + migrateServiceName
	if len(r.Findings) != 1 || r.Findings[0].Message() != want {
		t.Errorf("got %v, want one finding %q", summary(r.Findings), want)
	}
}

func TestEvaluateIgnoresKindsWithoutPodTemplate(t *testing.T) {
	r := NewEngine(nil).Evaluate(t.Context(), Request{Object: headlessService()})
	if r.Applicable || len(r.Findings) != 0 {
		t.Errorf("a Service should not be evaluated, got %+v", r)
	}
}

func TestRuleCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if seen[r.ID] {
			t.Errorf("rule %s is registered twice", r.ID)
		}
		seen[r.ID] = true
		if r.Description == "" || r.Check == nil {
			t.Errorf("rule %s needs a description and a check", r.ID)
		}
		if r.DefaultAction != ActionDeny && r.DefaultAction != ActionWarn {
			t.Errorf("rule %s has default action %q", r.ID, r.DefaultAction)
		}
	}
	if len(Rules) != 23 {
		t.Errorf("the catalogue has %d rules, want 23", len(Rules))
	}
}

func TestRuleKinds(t *testing.T) {
	sts, ds, deploy := schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
		schema.GroupKind{Group: "apps", Kind: "Deployment"}
	tests := []struct {
		name string
		rule string
		want map[schema.GroupKind]bool
	}{
		{"a StatefulSet rule judges StatefulSets only", RuleStatefulSetServiceName, map[schema.GroupKind]bool{sts: true, ds: false, deploy: false}},
		{"the agent rule judges DaemonSets only", RuleAgentTolerations, map[schema.GroupKind]bool{sts: false, ds: true, deploy: false}},
		{"the DaemonSet anti-affinity rule judges DaemonSets only", RuleDaemonSetPodAntiAffinity, map[schema.GroupKind]bool{sts: false, ds: true, deploy: false}},
		{"an affinity rule judges every workload", RuleAffinityInvalid, map[schema.GroupKind]bool{sts: true, ds: true, deploy: true, {Kind: "Pod"}: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rule := ruleByID[tt.rule]
			for gk, want := range tt.want {
				if got := rule.AppliesTo(gk); got != want {
					t.Errorf("%s.AppliesTo(%s) = %v, want %v", tt.rule, gk, got, want)
				}
			}
		})
	}
	var kinds []schema.GroupKind
	for _, k := range Kinds() {
		kinds = append(kinds, k.GroupKind())
	}
	for _, r := range Rules {
		for _, gk := range r.Kinds {
			if !slices.Contains(kinds, gk) {
				t.Errorf("rule %s names kind %s, which is not a workload kind", r.ID, gk)
			}
		}
		if strings.HasPrefix(r.ID, "statefulset-") && !slices.Equal(r.Kinds, []schema.GroupKind{sts}) {
			t.Errorf("rule %s has kinds %v, want StatefulSet only", r.ID, r.Kinds)
		}
	}
}
