package version

import "testing"

func TestStampedOverridesTheBuildInformation(t *testing.T) {
	tests := []struct {
		name              string
		version, revision string
		in, want          Info
	}{
		{
			name: "a build without a stamp keeps its build information",
			in:   Info{Version: "(devel)", Revision: "abc", GoVersion: "go1.26.10"},
			want: Info{Version: "(devel)", Revision: "abc", GoVersion: "go1.26.10"},
		},
		{
			name:    "a release build says its version and revision",
			version: "v0.4.0", revision: "1a2b3c4d5e6f",
			in:   Info{Version: "(devel)", GoVersion: "go1.26.10"},
			want: Info{Version: "v0.4.0", Revision: "1a2b3c4d5e6f", GoVersion: "go1.26.10"},
		},
		{
			name:    "a version stamp alone keeps the VCS revision of the build",
			version: "v0.4.0",
			in:      Info{Version: "(devel)", Revision: "abc-dirty"},
			want:    Info{Version: "v0.4.0", Revision: "abc-dirty"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version, revision = tt.version, tt.revision
			t.Cleanup(func() { version, revision = "", "" })
			if got := stamped(tt.in); got != tt.want {
				t.Errorf("stamped(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
