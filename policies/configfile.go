package policies

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ConfigMapKey is the key of the ConfigMap the Helm chart renders that holds
// the PolicyConfig, mounted as the server's --config file.
const ConfigMapKey = "config.yaml"

// AlwaysExemptNamespaces are exempt from every rule whatever the PolicyConfig
// says: the control plane's namespace and setwarden's own. The chart's
// webhooks are never called for them (a webhook there could lock the
// cluster), so the offline check exempts them too and gives the verdicts the
// cluster gives. exemptions.namespaces adds to them.
var AlwaysExemptNamespaces = []string{metav1.NamespaceSystem, DefaultNamespace}

// NamespaceExempt reports whether every rule is off in a namespace: one of
// AlwaysExemptNamespaces or of exemptions.namespaces.
func (c *Config) NamespaceExempt(namespace string) bool {
	return slices.Contains(AlwaysExemptNamespaces, namespace) || slices.Contains(c.Exemptions.Namespaces, namespace)
}

// configDocument returns the one PolicyConfig document of a config file. The
// file holds a PolicyConfig, or the v1 ConfigMap the Helm chart renders
// (`helm template ... -s templates/configmap.yaml`), whose config.yaml key
// is then the PolicyConfig. Empty documents (a leading `---`, comments) do
// not count; several documents are an error rather than the first one read
// silently.
func configDocument(data []byte) ([]byte, error) {
	docs, err := yamlDocuments(data)
	if err != nil {
		return nil, err
	}
	switch len(docs) {
	case 0:
		return data, nil
	case 1:
	default:
		return nil, fmt.Errorf("the file holds %d YAML documents; it must hold one PolicyConfig, or the v1 ConfigMap the Helm chart renders", len(docs))
	}
	var head metav1.TypeMeta
	if err := yaml.Unmarshal(docs[0], &head); err != nil || head.Kind != "ConfigMap" {
		// Not a ConfigMap: ParseConfig reports what is wrong with it.
		return docs[0], nil
	}
	if head.APIVersion != "v1" {
		return nil, fmt.Errorf("a ConfigMap must have apiVersion v1, not %q", head.APIVersion)
	}
	cm := &corev1.ConfigMap{}
	if err := yaml.Unmarshal(docs[0], cm); err != nil {
		return nil, fmt.Errorf("reading the ConfigMap: %w", err)
	}
	inner, ok := cm.Data[ConfigMapKey]
	if !ok {
		keys := slices.Sorted(maps.Keys(cm.Data))
		has := "no data keys"
		if len(keys) > 0 {
			has = "only " + strings.Join(keys, ", ")
		}
		return nil, fmt.Errorf("ConfigMap %s has no %s key holding the PolicyConfig (it has %s)", configMapName(cm), ConfigMapKey, has)
	}
	innerDocs, err := yamlDocuments([]byte(inner))
	if err != nil {
		return nil, fmt.Errorf("ConfigMap %s, key %s: %w", configMapName(cm), ConfigMapKey, err)
	}
	if len(innerDocs) > 1 {
		return nil, fmt.Errorf("ConfigMap %s, key %s: holds %d YAML documents; it must hold one PolicyConfig", configMapName(cm), ConfigMapKey, len(innerDocs))
	}
	return []byte(inner), nil
}

// configMapName names a ConfigMap as namespace/name, or name alone.
func configMapName(cm *corev1.ConfigMap) string {
	if cm.Namespace == "" {
		return cm.Name
	}
	return cm.Namespace + "/" + cm.Name
}

// yamlDocuments splits a YAML stream into its documents, leaving out those
// with nothing but comments and blank lines.
func yamlDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading YAML documents: %w", err)
		}
		if !blankYAML(doc) {
			docs = append(docs, doc)
		}
	}
}

// blankYAML reports whether a document has only comments, blank lines and
// document markers.
func blankYAML(doc []byte) bool {
	for line := range strings.SplitSeq(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" && line != "..." {
			return false
		}
	}
	return true
}
