package setwarden

import (
	"strings"
	"testing"

	"github.com/setwarden/setwarden/policies"
)

func TestRuleDoc(t *testing.T) {
	tests := []struct {
		name   string
		id     string
		want   string
		wantOK bool
	}{
		{"a rule's section is its text up to the next section", "statefulset-volume-claim-templates",
			"Default: **Deny**. A StatefulSet has no volumeClaimTemplates. On UPDATE, a violation the old object already had is only warned about (grandfathered).", true},
		{"a section ends at the next rule's heading", "toleration-value-fragile",
			"Default: **Warn**. A toleration for a control-plane role key matches one fixed value instead of using operator Exists.", true},
		{"an unknown ID has no section", "no-such-rule", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RuleDoc(tt.id)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("RuleDoc(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestEveryRuleHasEmbeddedDoc keeps `setwarden explain` working for every
// rule: the embedded README must have each rule's section, and the last
// one must end before the README's next chapter.
func TestEveryRuleHasEmbeddedDoc(t *testing.T) {
	for _, r := range policies.Rules {
		doc, ok := RuleDoc(r.ID)
		switch {
		case !ok || doc == "":
			t.Errorf("the embedded README has no text for rule %s", r.ID)
		case strings.Contains(doc, "\n#"):
			t.Errorf("the text of rule %s runs into the next heading:\n%s", r.ID, doc)
		}
	}
}
