package fastyaml

import "testing"

// FuzzFastYAML checks that the fast YAML path either declines a document
// or converts it to JSON with the same value as sigs.k8s.io/yaml.
func FuzzFastYAML(f *testing.F) {
	for _, tc := range fastYAMLCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		fastYAMLAgrees(t, "fuzz", doc)
		fastYAMLLocateAgrees(t, "fuzz", doc)
	})
}
