// Package fix applies the policy engine's mutations to YAML manifests as
// text, the way `check --fix` needs it: only the documents that change are
// re-encoded (with kyaml, which keeps comments, key order and the sequence
// indentation style), and every other byte of the stream is kept as it was.
package fix

import (
	"bytes"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/setwarden/setwarden/internal/fastyaml"
	"github.com/setwarden/setwarden/internal/manifest"
	"sigs.k8s.io/yaml"

	"github.com/setwarden/setwarden/policies"
)

// Change is one object the fix changed.
type Change struct {
	// Line is the stream line where the object starts, as the check
	// reports it: its first line that is not blank or a comment.
	Line      int
	Namespace string
	Name      string
	// Added are the tolerations added to the DaemonSet's pod template.
	Added []corev1.Toleration
}

// String describes the change for people.
func (c Change) String() string {
	keys := make([]string, len(c.Added))
	for i, t := range c.Added {
		keys[i] = fmt.Sprintf("{key: %s, operator: %s, effect: %s}", t.Key, t.Operator, t.Effect)
	}
	return fmt.Sprintf("DaemonSet.apps %s/%s: added tolerations %s", c.Namespace, c.Name, strings.Join(keys, ", "))
}

// Stream applies the mutations to a multi-document YAML stream and returns
// the new stream and the changes; out is data itself when nothing changed.
// Objects without a namespace are judged in namespace (kubectl's -n; empty
// means "default"). A document that cannot be decoded is left alone: the
// check reports it.
func Stream(engine *policies.Engine, namespace string, data []byte) (out []byte, changes []Change, err error) {
	var buf bytes.Buffer
	for _, doc := range splitDocuments(data) {
		body := doc.text[len(doc.separator):]
		fixed, change, err := document(engine, namespace, body)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", doc.line, err)
		}
		buf.Write(doc.separator)
		if change == nil {
			buf.Write(body)
			continue
		}
		change.Line = doc.line + contentOffset(doc.text)
		changes = append(changes, *change)
		buf.Write(fixed)
	}
	if len(changes) == 0 {
		return data, nil, nil
	}
	return buf.Bytes(), changes, nil
}

// document fixes one document body; it returns a nil Change when the body
// needs no fix.
func document(engine *policies.Engine, namespace string, body []byte) ([]byte, *Change, error) {
	if !bytes.Contains(body, []byte("DaemonSet")) {
		return nil, nil, nil
	}
	var ds appsv1.DaemonSet
	if err := yaml.Unmarshal(body, &ds); err != nil || ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" {
		return nil, nil, nil
	}
	if ds.Namespace == "" {
		ds.Namespace = namespace
	}
	added := engine.MutateAgentTolerations(&ds)
	if len(added) == 0 {
		return nil, nil, nil
	}
	fixed, err := addTolerations(body, added)
	if err != nil {
		return nil, nil, err
	}
	ns := ds.Namespace
	if ns == "" {
		ns = "default"
	}
	return fixed, &Change{Namespace: ns, Name: ds.Name, Added: added}, nil
}

// addTolerations appends tolerations to spec.template.spec.tolerations of
// a DaemonSet document, creating the field if needed, and re-encodes the
// document in the sequence indentation style it was written in.
func addTolerations(body []byte, added []corev1.Toleration) ([]byte, error) {
	node, err := kyaml.Parse(string(body))
	if err != nil {
		return nil, err
	}
	seq, err := node.Pipe(kyaml.LookupCreate(kyaml.SequenceNode, "spec", "template", "spec", "tolerations"))
	if err != nil {
		return nil, err
	}
	if seq == nil || seq.YNode().Kind != kyaml.SequenceNode {
		return nil, fmt.Errorf("spec.template.spec.tolerations is not a list")
	}
	for _, t := range added {
		item, err := tolerationNode(t)
		if err != nil {
			return nil, err
		}
		seq.YNode().Content = append(seq.YNode().Content, item.YNode())
	}
	style := kyaml.SequenceIndentStyle(kyaml.DeriveSeqIndentStyle(string(body)))
	return kyaml.MarshalWithOptions(node.Document(), &kyaml.EncoderOptions{SeqIndent: style})
}

// tolerationNode builds a toleration with its keys in the order people
// write them: key, operator, value, effect, tolerationSeconds.
func tolerationNode(t corev1.Toleration) (*kyaml.RNode, error) {
	m := kyaml.NewMapRNode(nil)
	fields := []struct{ name, value string }{
		{"key", t.Key}, {"operator", string(t.Operator)}, {"value", t.Value}, {"effect", string(t.Effect)},
	}
	for _, f := range fields {
		if f.value == "" {
			continue
		}
		if err := m.PipeE(kyaml.SetField(f.name, kyaml.NewStringRNode(f.value))); err != nil {
			return nil, err
		}
	}
	if t.TolerationSeconds != nil {
		if err := m.PipeE(kyaml.SetField("tolerationSeconds", kyaml.NewScalarRNode(fmt.Sprint(*t.TolerationSeconds)))); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// rawDocument is one document of a stream: its separator line ("---" and what
// follows it on that line, empty for a first document without one), then
// its body, and the stream line it starts at.
type rawDocument struct {
	text      []byte
	separator []byte
	line      int
}

// splitDocuments cuts a stream on its "---" and "..." lines, keeping every byte: the
// concatenation of the documents' text is data.
func splitDocuments(data []byte) []rawDocument {
	var docs []rawDocument
	start, startLine := 0, 1
	for off, line := 0, 1; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		if isSeparator(data[off:next]) && off > start {
			docs = append(docs, newRawDocument(data[start:off], startLine))
			start, startLine = off, line
		} else if isSeparator(data[off:next]) {
			startLine = line
		}
		off = next
	}
	if start < len(data) {
		docs = append(docs, newRawDocument(data[start:], startLine))
	}
	return docs
}

func newRawDocument(text []byte, line int) rawDocument {
	d := rawDocument{text: text, line: line}
	if isSeparator(text) {
		end := bytes.IndexByte(text, '\n')
		if end < 0 {
			end = len(text) - 1
		}
		d.separator = text[:end+1]
	}
	return d
}

// contentOffset returns how many lines of text come before its first line
// that is neither a separator, blank, a comment nor a directive: the line
// the check reports an object at.
func contentOffset(text []byte) int {
	for i, line := range bytes.SplitAfter(text, []byte("\n")) {
		if manifest.IsContentLine(line) && !isSeparator(line) {
			return i
		}
	}
	return 0
}

// isSeparator reports a document start ("---") or end ("...") line, as the
// check's reader splits streams.
func isSeparator(line []byte) bool { return fastyaml.SeparatorLen(line) > 0 }
