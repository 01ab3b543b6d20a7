package spelling

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		name  string
		a, b  string
		limit int
		want  int
	}{
		{name: "equal names are at distance 0", a: "nodeAffinity", b: "nodeAffinity", limit: 3, want: 0},
		{name: "a dropped letter is one edit", a: "nodeAfinity", b: "nodeAffinity", limit: 3, want: 1},
		{name: "a swapped pair of letters is two edits", a: "tolreations", b: "tolerations", limit: 3, want: 2},
		{name: "an appended letter is one edit", a: "tolerationz", b: "toleration", limit: 3, want: 1},
		{name: "names whose lengths differ by the limit stop at the limit", a: "a", b: "abcd", limit: 3, want: 3},
		{name: "a distance over the limit is the limit", a: "spec", b: "status", limit: 2, want: 2},
		{name: "an empty name is as far as the other's length", a: "", b: "ab", limit: 5, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Distance(tt.a, tt.b, tt.limit); got != tt.want {
				t.Errorf("Distance(%q, %q, %d) = %d, want %d", tt.a, tt.b, tt.limit, got, tt.want)
			}
		})
	}
}
