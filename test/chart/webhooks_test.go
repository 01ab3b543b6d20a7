package chart

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

// chartSourceWebhooks loads files/webhooks.yaml, the single source the
// templates render from and the e2e tests load.
func chartSourceWebhooks(t *testing.T) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, "files", "webhooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	docs := regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1)
	if len(docs) != 2 {
		t.Fatalf("files/webhooks.yaml has %d documents, want 2", len(docs))
	}
	m, v := &admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), m); err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), v); err != nil {
		t.Fatal(err)
	}
	return m, v
}

// chartNotIn is the namespaceSelector requirement that keeps namespaces away
// from the webhooks.
func chartNotIn(namespaces ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: namespaces}
}

// TestChartWebhookConfigurations decodes the rendered webhook configurations
// and checks every field the chart sets, against files/webhooks.yaml for the
// fields it keeps.
func TestChartWebhookConfigurations(t *testing.T) {
	srcM, srcV := chartSourceWebhooks(t)
	caPEM, err := os.ReadFile("testdata/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                    string
		args                    []string
		fullname                string
		mutatePolicy, valPolicy admissionregistrationv1.FailurePolicyType
		timeout                 int32
		servicePort             int32
		namespaceSelector       *metav1.LabelSelector
		objectSelector          *metav1.LabelSelector
		// validatingObjectSelector is the validating webhook's: only webhook.objectSelector sets it.
		validatingObjectSelector *metav1.LabelSelector
		matchConditions          []admissionregistrationv1.MatchCondition
		caBundle                 []byte
		injectCAFrom             string
	}{
		{name: "the defaults select agents by label, so the mutating webhook sees only labelled DaemonSets",
			fullname: "sw-setwarden", mutatePolicy: admissionregistrationv1.Ignore, valPolicy: admissionregistrationv1.Fail,
			timeout: 5, servicePort: 443,
			namespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{chartNotIn("kube-system", chartNamespace)}},
			objectSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"setwarden.dev/agent": "true"}}},
		{name: "agent namespaces drop the objectSelector, since their DaemonSets need no label",
			args:     []string{"--set", "config.agents.namespaces[0]=logging"},
			fullname: "sw-setwarden", mutatePolicy: admissionregistrationv1.Ignore, valPolicy: admissionregistrationv1.Fail,
			timeout: 5, servicePort: 443,
			namespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{chartNotIn("kube-system", chartNamespace)}}},
		{name: "cert-manager mode asks the cainjector for the serving certificate's CA",
			args:     []string{"--set", "tls.mode=cert-manager"},
			fullname: "sw-setwarden", mutatePolicy: admissionregistrationv1.Ignore, valPolicy: admissionregistrationv1.Fail,
			timeout: 5, servicePort: 443,
			namespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{chartNotIn("kube-system", chartNamespace)}},
			objectSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"setwarden.dev/agent": "true"}},
			injectCAFrom:      chartNamespace + "/sw-setwarden-serving"},
		{name: "secret mode writes the operator's CA bundle",
			args:     chartSecretModeArgs,
			fullname: "sw-setwarden", mutatePolicy: admissionregistrationv1.Ignore, valPolicy: admissionregistrationv1.Fail,
			timeout: 5, servicePort: 443,
			namespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{chartNotIn("kube-system", chartNamespace)}},
			objectSelector:    &metav1.LabelSelector{MatchLabels: map[string]string{"setwarden.dev/agent": "true"}},
			caBundle:          caPEM},
		{name: "every value set: policies, timeout, port, extra exclusions and expressions, agent namespaces",
			args:     append([]string{"-f", chartEverything}, chartSecretModeArgs...),
			fullname: "policy-warden", mutatePolicy: admissionregistrationv1.Fail, valPolicy: admissionregistrationv1.Ignore,
			timeout: 10, servicePort: 8443,
			namespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				chartNotIn("kube-system", chartNamespace, "monitoring"),
				{Key: "setwarden.dev/ignore", Operator: metav1.LabelSelectorOpDoesNotExist},
			}},
			objectSelector:           everythingObjectSelector,
			validatingObjectSelector: everythingObjectSelector,
			matchConditions: []admissionregistrationv1.MatchCondition{{Name: "not-a-dry-run-bot",
				Expression: "request.userInfo.username != 'system:serviceaccount:ci:dry-runner'"}},
			caBundle: caPEM},
		{name: "webhook.objectSelector is ANDed with the agent selector for the mutating webhook",
			args: []string{"--set", "webhook.objectSelector.matchLabels.team=platform",
				"--set", "webhook.objectSelector.matchExpressions[0].key=skip", "--set", "webhook.objectSelector.matchExpressions[0].operator=DoesNotExist"},
			fullname: "sw-setwarden", mutatePolicy: admissionregistrationv1.Ignore, valPolicy: admissionregistrationv1.Fail,
			timeout: 5, servicePort: 443,
			namespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{chartNotIn("kube-system", chartNamespace)}},
			objectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"setwarden.dev/agent": "true", "team": "platform"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip", Operator: metav1.LabelSelectorOpDoesNotExist}}},
			validatingObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "platform"},
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "skip", Operator: metav1.LabelSelectorOpDoesNotExist}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, "sw", chartNamespace, tc.args...))
			m, v := &admissionregistrationv1.MutatingWebhookConfiguration{}, &admissionregistrationv1.ValidatingWebhookConfiguration{}
			chartDecode(t, objs, "MutatingWebhookConfiguration", tc.fullname, m)
			chartDecode(t, objs, "ValidatingWebhookConfiguration", tc.fullname, v)

			svc := func(path string) admissionregistrationv1.WebhookClientConfig {
				return admissionregistrationv1.WebhookClientConfig{CABundle: tc.caBundle, Service: &admissionregistrationv1.ServiceReference{
					Namespace: chartNamespace, Name: tc.fullname, Path: ptr.To(path), Port: ptr.To(tc.servicePort)}}
			}
			wantM := srcM.Webhooks[0]
			wantM.FailurePolicy, wantM.TimeoutSeconds = ptr.To(tc.mutatePolicy), ptr.To(tc.timeout)
			wantM.NamespaceSelector, wantM.ObjectSelector = tc.namespaceSelector, tc.objectSelector
			wantM.ClientConfig = svc("/mutate")
			wantM.MatchConditions = tc.matchConditions
			wantV := srcV.Webhooks[0]
			wantV.FailurePolicy, wantV.TimeoutSeconds = ptr.To(tc.valPolicy), ptr.To(tc.timeout)
			wantV.NamespaceSelector, wantV.ObjectSelector = tc.namespaceSelector, tc.validatingObjectSelector
			wantV.MatchConditions = tc.matchConditions
			wantV.ClientConfig = svc("/validate")
			if diff := cmp.Diff([]admissionregistrationv1.MutatingWebhook{wantM}, m.Webhooks); diff != "" {
				t.Errorf("mutating webhooks (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]admissionregistrationv1.ValidatingWebhook{wantV}, v.Webhooks); diff != "" {
				t.Errorf("validating webhooks (-want +got):\n%s", diff)
			}
			for kind, meta := range map[string]metav1.ObjectMeta{"mutating": m.ObjectMeta, "validating": v.ObjectMeta} {
				if got := meta.Annotations["cert-manager.io/inject-ca-from"]; got != tc.injectCAFrom {
					t.Errorf("%s inject-ca-from = %q, want %q", kind, got, tc.injectCAFrom)
				}
			}
		})
	}
}

// everythingObjectSelector is webhook.objectSelector in testdata/everything.yaml.
var everythingObjectSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"example.com/tier": "infra"},
	MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "example.com/no-setwarden", Operator: metav1.LabelSelectorOpDoesNotExist}}}

// TestChartWebhookSourceIsNarrow pins the scope files/webhooks.yaml gives
// both webhooks, which the chart renders unchanged: mutation only of
// DaemonSets, validation of StatefulSets and the pod-template kinds.
func TestChartWebhookSourceIsNarrow(t *testing.T) {
	m, v := chartSourceWebhooks(t)
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources, Scope: ptr.To(admissionregistrationv1.NamespacedScope)}}
	}
	if diff := cmp.Diff([]admissionregistrationv1.RuleWithOperations{rule("apps", "daemonsets")}, m.Webhooks[0].Rules); diff != "" {
		t.Errorf("mutating rules (-want +got):\n%s", diff)
	}
	// The validating webhook receives exactly the kinds of the engine's
	// table, one rule per group in the table's order.
	var wantV []admissionregistrationv1.RuleWithOperations
	for _, k := range policies.Kinds() {
		if k.Version != "v1" {
			t.Fatalf("kind %s is served as %s; the chart's rules name v1 only", k.Kind, k.GroupVersion())
		}
		if n := len(wantV); n > 0 && wantV[n-1].APIGroups[0] == k.Group {
			wantV[n-1].Resources = append(wantV[n-1].Resources, k.Resource)
			continue
		}
		wantV = append(wantV, rule(k.Group, k.Resource))
	}
	if diff := cmp.Diff(wantV, v.Webhooks[0].Rules); diff != "" {
		t.Errorf("validating rules differ from policies.Kinds() (-want +got):\n%s", diff)
	}
	if got := m.Webhooks[0].ReinvocationPolicy; got == nil || *got != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("mutating reinvocationPolicy = %v, want IfNeeded", got)
	}
	for _, wh := range []struct {
		name        string
		match       *admissionregistrationv1.MatchPolicyType
		sideEffects *admissionregistrationv1.SideEffectClass
		versions    []string
	}{
		{m.Webhooks[0].Name, m.Webhooks[0].MatchPolicy, m.Webhooks[0].SideEffects, m.Webhooks[0].AdmissionReviewVersions},
		{v.Webhooks[0].Name, v.Webhooks[0].MatchPolicy, v.Webhooks[0].SideEffects, v.Webhooks[0].AdmissionReviewVersions},
	} {
		if ptr.Deref(wh.match, "") != admissionregistrationv1.Equivalent || ptr.Deref(wh.sideEffects, "") != admissionregistrationv1.SideEffectClassNone ||
			!cmp.Equal(wh.versions, []string{"v1"}) {
			t.Errorf("%s: matchPolicy %v, sideEffects %v, admissionReviewVersions %v; want Equivalent, None, [v1]",
				wh.name, ptr.Deref(wh.match, ""), ptr.Deref(wh.sideEffects, ""), wh.versions)
		}
	}
}

// TestChartCertManagerObjects decodes the cert-manager mode's Issuers and
// Certificates with cert-manager's own types and checks the CA chain and the
// serving certificate's names.
func TestChartCertManagerObjects(t *testing.T) {
	cases := []struct {
		name, release, fullname string
		args                    []string
		secretName              string
		keyAlgorithm            cmapi.PrivateKeyAlgorithm
		caDuration, duration    string
		renewBefore             string
		usages                  []cmapi.KeyUsage
	}{
		{name: "the defaults", release: "sw", fullname: "sw-setwarden", args: []string{"--set", "tls.mode=cert-manager"}, secretName: "sw-setwarden-tls",
			keyAlgorithm: cmapi.ECDSAKeyAlgorithm, caDuration: "87600h0m0s", duration: "2160h0m0s", renewBefore: "360h0m0s",
			usages: []cmapi.KeyUsage{cmapi.UsageServerAuth, cmapi.UsageDigitalSignature}},
		{name: "every value set, with RSA keys that also need key encipherment", release: "everything", fullname: "policy-warden",
			args: []string{"-f", chartEverything, "--set", "tls.mode=cert-manager"}, secretName: "warden-serving-cert",
			keyAlgorithm: cmapi.RSAKeyAlgorithm, caDuration: "43800h0m0s", duration: "720h0m0s", renewBefore: "240h0m0s",
			usages: []cmapi.KeyUsage{cmapi.UsageServerAuth, cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs := chartObjects(t, chartTemplate(t, tc.release, chartNamespace, tc.args...))
			issuerRef := func(name string) cmmeta.IssuerReference {
				return cmmeta.IssuerReference{Group: "cert-manager.io", Kind: cmapi.IssuerKind, Name: name}
			}
			selfSigned, caIssuer := &cmapi.Issuer{}, &cmapi.Issuer{}
			chartDecode(t, objs, "Issuer", tc.fullname+"-selfsigned", selfSigned)
			chartDecode(t, objs, "Issuer", tc.fullname+"-ca", caIssuer)
			if selfSigned.Spec.SelfSigned == nil || selfSigned.Spec.CA != nil {
				t.Errorf("the self-signed Issuer is not selfSigned: %+v", selfSigned.Spec)
			}
			if diff := cmp.Diff(&cmapi.CAIssuer{SecretName: tc.fullname + "-ca"}, caIssuer.Spec.CA); diff != "" {
				t.Errorf("CA Issuer spec.ca (-want +got):\n%s", diff)
			}

			ca, serving := &cmapi.Certificate{}, &cmapi.Certificate{}
			chartDecode(t, objs, "Certificate", tc.fullname+"-ca", ca)
			chartDecode(t, objs, "Certificate", tc.fullname+"-serving", serving)
			if !ca.Spec.IsCA || ca.Spec.SecretName != tc.fullname+"-ca" || ca.Spec.IssuerRef != issuerRef(tc.fullname+"-selfsigned") {
				t.Errorf("CA Certificate: isCA %v, secretName %q, issuerRef %+v; want true, %q, the self-signed Issuer",
					ca.Spec.IsCA, ca.Spec.SecretName, ca.Spec.IssuerRef, tc.fullname+"-ca")
			}
			if got := ca.Spec.Duration.Duration.String(); got != tc.caDuration {
				t.Errorf("CA duration = %s, want %s", got, tc.caDuration)
			}
			wantDNS := []string{tc.fullname + "." + chartNamespace + ".svc", tc.fullname + "." + chartNamespace + ".svc.cluster.local"}
			if diff := cmp.Diff(wantDNS, serving.Spec.DNSNames); diff != "" {
				t.Errorf("serving dnsNames (-want +got):\n%s", diff)
			}
			if serving.Spec.IsCA || serving.Spec.IssuerRef != issuerRef(tc.fullname+"-ca") {
				t.Errorf("serving Certificate: isCA %v, issuerRef %+v; want false, the CA Issuer", serving.Spec.IsCA, serving.Spec.IssuerRef)
			}
			// The Deployment mounts this Secret at --cert-dir.
			if serving.Spec.SecretName != tc.secretName {
				t.Errorf("serving secretName = %q, want %q", serving.Spec.SecretName, tc.secretName)
			}
			if got := serving.Spec.Duration.Duration.String() + "/" + serving.Spec.RenewBefore.Duration.String(); got != tc.duration+"/"+tc.renewBefore {
				t.Errorf("serving duration/renewBefore = %s, want %s/%s", got, tc.duration, tc.renewBefore)
			}
			if diff := cmp.Diff(tc.usages, serving.Spec.Usages); diff != "" {
				t.Errorf("serving usages (-want +got):\n%s", diff)
			}
			for _, c := range []*cmapi.Certificate{ca, serving} {
				if c.Spec.PrivateKey == nil || c.Spec.PrivateKey.Algorithm != tc.keyAlgorithm ||
					c.Spec.PrivateKey.RotationPolicy != cmapi.RotationPolicyAlways {
					t.Errorf("%s privateKey = %+v, want %s with rotationPolicy Always", c.Name, c.Spec.PrivateKey, tc.keyAlgorithm)
				}
			}
		})
	}
}

// TestChartSecretModeCABundle checks that the PEM the operator gives is what
// the API server will trust, byte for byte.
func TestChartSecretModeCABundle(t *testing.T) {
	caPEM, err := os.ReadFile("testdata/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	out := chartTemplate(t, "sw", chartNamespace, chartSecretModeArgs...)
	want := "caBundle: " + base64.StdEncoding.EncodeToString(caPEM)
	if n := regexp.MustCompile(regexp.QuoteMeta(want)).FindAllStringIndex(out, -1); len(n) != 2 {
		t.Errorf("the rendered chart has %d copies of %q, want one per webhook", len(n), want)
	}
}
