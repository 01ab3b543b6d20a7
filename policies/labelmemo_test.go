package policies

import (
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestLabelMemoRemembersOnlyValidTexts(t *testing.T) {
	m := &labelMemo{valid: map[labelText]struct{}{}}
	tests := []struct {
		name  string
		check func(string) bool
		text  string
		want  bool
	}{
		{name: "a prefixed key is valid", check: m.key, text: "app.kubernetes.io/name", want: true},
		{name: "a key with a space is invalid", check: m.key, text: "bad key", want: false},
		{name: "an empty key is invalid", check: m.key, text: "", want: false},
		{name: "a value is valid", check: m.value, text: "web-1", want: true},
		{name: "an empty value is valid", check: m.value, text: "", want: true},
		{name: "a value with a slash is invalid", check: m.value, text: "a/b", want: false},
		{name: "a valid key is not taken for a valid value", check: m.value, text: "app.kubernetes.io/name", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // once validated, once remembered
				if got := tt.check(tt.text); got != tt.want {
					t.Fatalf("%q: got %v, want %v", tt.text, got, tt.want)
				}
			}
		})
	}
	if len(m.valid) != 3 {
		t.Errorf("the memo holds %d texts, want the 3 valid ones: %v", len(m.valid), m.valid)
	}
}

func TestLabelMemoIsBounded(t *testing.T) {
	m := &labelMemo{valid: map[labelText]struct{}{}}
	for i := range maxLabelMemo + 10 {
		if !m.value("v" + strconv.Itoa(i)) {
			t.Fatalf("v%d is a valid label value", i)
		}
	}
	if len(m.valid) > maxLabelMemo {
		t.Errorf("the memo holds %d texts, more than %d", len(m.valid), maxLabelMemo)
	}
	if !m.value("v0") || !m.key("app") {
		t.Error("a full memo must still answer")
	}
}

// TestSelectorMatchesAsLabelSelectorAsSelector compares the selector
// matching of the rules with apimachinery's on valid and invalid selectors.
func TestSelectorMatchesAsLabelSelectorAsSelector(t *testing.T) {
	pod := map[string]string{"app": "web", "tier": "front", "example.com/role": "db"}
	tests := []struct {
		name string
		sel  *metav1.LabelSelector
		want bool
	}{
		{name: "an empty selector matches every pod", sel: &metav1.LabelSelector{}, want: true},
		{name: "a subset of the labels matches", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "example.com/role": "db"}}, want: true},
		{name: "another value does not match", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}, want: false},
		{name: "a missing key does not match", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": "a"}}, want: false},
		{name: "an empty value does not match a missing key", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"zone": ""}}, want: false},
		{name: "an invalid key matches nothing", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "web"}}, want: false},
		{name: "an invalid value matches nothing", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": strings.Repeat("w", 64)}}, want: false},
		{name: "expressions are matched by apimachinery", sel: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"front"}}}}, want: true},
		{name: "an expression that excludes the pod does not match", sel: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpDoesNotExist}}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := metav1.LabelSelectorAsSelector(tt.sel)
			if apimachinery := err == nil && s.Matches(labels.Set(pod)); apimachinery != tt.want {
				t.Fatalf("apimachinery says %v, the case %v", apimachinery, tt.want)
			}
			if got := selectorMatches(newLabelMemo(), tt.sel, pod); got != tt.want {
				t.Errorf("selectorMatches = %v, want %v", got, tt.want)
			}
			if len(tt.sel.MatchExpressions) == 0 && err == nil {
				if got, want := setMatches(tt.sel.MatchLabels, pod), labels.SelectorFromSet(tt.sel.MatchLabels).Matches(labels.Set(pod)); got != want {
					t.Errorf("setMatches = %v, labels.SelectorFromSet says %v", got, want)
				}
			}
		})
	}
}
