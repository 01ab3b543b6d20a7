package policies

import (
	"os"
	"strings"
	"testing"
)

// TestEveryRuleIsDocumented keeps the README's rule catalogue, which each
// rule's Anchor links to, in step with the registered rules.
func TestEveryRuleIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		if !strings.Contains(string(readme), "\n### "+r.ID+"\n") {
			t.Errorf("README.md has no section \"### %s\" for rule %s (its docs anchor)", r.ID, r.ID)
		}
	}
}
