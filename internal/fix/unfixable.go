package fix

import (
	"bytes"
	"encoding/json"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/internal/report"
	"github.com/setwarden/setwarden/policies"
)

// The notices for the agent DaemonSets --fix leaves alone: kyaml would
// rewrite a JSON file as YAML, and the items of a List share one document.
const (
	unfixableJSON = "--fix cannot edit JSON: add the tolerations by hand or convert the file to YAML"
	unfixableList = "--fix cannot edit the items of a kind: List: add the tolerations by hand or write the items as YAML documents of their own"
)

// isJSON reports whether a file is JSON rather than YAML, as Apply tells them.
func isJSON(data []byte) bool { return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) }

// unfixable returns a notice for each agent DaemonSet in data that needs
// tolerations which --fix cannot add: every one in JSON (asJSON), and the
// items of a kind: List in YAML (Stream fixes the others). Documents that
// cannot be decoded are left to the check.
func unfixable(engine *policies.Engine, namespace, file string, data []byte, asJSON bool) []report.Problem {
	var notices []report.Problem
	for _, doc := range splitDocuments(data) {
		var head struct {
			Kind  string            `json:"kind"`
			Items []json.RawMessage `json:"items"`
		}
		body := doc.text[len(doc.separator):]
		if err := yaml.Unmarshal(body, &head); err != nil {
			continue
		}
		line := doc.line + contentOffset(doc.text)
		if head.Items != nil {
			for _, item := range head.Items {
				if ref, ok := agentToFix(engine, namespace, item); ok {
					notices = append(notices, report.Problem{File: file, Line: line, Object: ref, Message: unfixableNotice(asJSON)})
				}
			}
		} else if ref, ok := agentToFix(engine, namespace, body); ok && asJSON {
			notices = append(notices, report.Problem{File: file, Line: line, Object: ref, Message: unfixableJSON})
		}
	}
	return notices
}

func unfixableNotice(asJSON bool) string {
	if asJSON {
		return unfixableJSON
	}
	return unfixableList
}

// agentToFix decodes an object and reports whether it is a DaemonSet the
// mutation would change, judged in namespace when it has none.
func agentToFix(engine *policies.Engine, namespace string, data []byte) (*report.ObjectRef, bool) {
	var ds appsv1.DaemonSet
	if err := yaml.Unmarshal(data, &ds); err != nil || ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" {
		return nil, false
	}
	if ds.Namespace == "" {
		ds.Namespace = namespace
	}
	if ds.Namespace == "" {
		ds.Namespace = metav1.NamespaceDefault
	}
	if len(engine.MutateAgentTolerations(&ds)) == 0 {
		return nil, false
	}
	return &report.ObjectRef{APIVersion: ds.APIVersion, Kind: ds.Kind, Namespace: ds.Namespace, Name: ds.Name}, true
}
