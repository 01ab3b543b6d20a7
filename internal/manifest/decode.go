package manifest

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/setwarden/setwarden/internal/fastyaml"
	"github.com/setwarden/setwarden/internal/kjson"
	"github.com/setwarden/setwarden/policies"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// decoders are the kinds setwarden decodes into typed objects: the workload
// kinds the engine judges, and the Services and Nodes the rules read. Every
// other kind is only counted.
var decoders = func() map[schema.GroupVersionKind]func() runtime.Object {
	m := map[schema.GroupVersionKind]func() runtime.Object{
		corev1.SchemeGroupVersion.WithKind("Service"): func() runtime.Object { return &corev1.Service{} },
		corev1.SchemeGroupVersion.WithKind("Node"):    func() runtime.Object { return &corev1.Node{} },
	}
	for _, k := range policies.Kinds() {
		m[k.GroupVersionKind] = k.New
	}
	return m
}()

// builtinGroups are the API groups that served the decoded kinds in some
// version. A decoded kind under another version of one of these groups (such
// as apps/v1beta1 StatefulSet) is an error, because skipping it would pass a
// workload unchecked. The same kind name in a foreign group (Knative's
// serving.knative.dev Service) is a different kind and is only counted.
// extensions served DaemonSets, Deployments and ReplicaSets before apps.
var builtinGroups = func() map[string]bool {
	groups := map[string]bool{"extensions": true}
	for gvk := range decoders {
		groups[gvk.Group] = true
	}
	return groups
}()

// maxListDepth bounds nested Lists, so a hostile input cannot recurse forever.
const maxListDepth = 8

// header is the part of every object the reader needs before picking a type.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Items []jsontext.Value `json:"items"`
}

// yamlLine finds the document-relative line in go-yaml's error messages.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// decoder decodes one document and hands its objects to the Visitor.
type decoder struct {
	v *Visitor
	// raw and rawLine are the document's text and first line, passed on
	// with each object for tools that map field paths to lines.
	raw     []byte
	rawLine int
	// fast converts most YAML documents to JSON; it is reused across
	// documents, by one goroutine at a time.
	fast *fastyaml.Converter
	// fastYAML is set when fast converted the document and can place its
	// fields (see fastYAML.accepts).
	fastYAML bool
	// deferList, when set, takes the items of a List instead of their
	// being decoded here: a worker hands Lists back, so that their items
	// are spread over the workers too, a window at a time.
	deferList func(b *decoder, src Source, items []jsontext.Value, depth int)
	// strict carries a document's conversion to its strict decoding.
	strict strictState
	// skipNonObjects turns a document that is not a Kubernetes object into
	// a notice instead of an error: set for files met in a directory walk,
	// which hold values files, CI workflows and tools' configuration too.
	skipNonObjects bool
}

// decodeYAMLDocument converts one YAML document to JSON and adds its objects.
// chunkLine is the file line of the chunk's first line, which go-yaml's line
// numbers count from; src.Line is the line reported for the object.
func (b *decoder) decodeYAMLDocument(src Source, chunkLine int, data []byte) {
	b.strict.fromYAML = true
	j, ok := b.fast.Convert(data)
	b.fastYAML = ok && !b.fast.NextLineFlow()
	var err error
	if !ok {
		j, err = b.yamlToJSON(data, chunkLine)
	}
	if err != nil {
		line := src.Line
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			line = chunkLine + newlinesBeforeYAMLLine(data, n)
			msg = strings.Replace(msg, m[0], "line "+strconv.Itoa(line), 1)
		}
		b.v.errorf(Source{File: src.File, Line: line}, "invalid YAML: %s", msg)
		return
	}
	b.decodeObject(src, j, 0)
}

// newlinesBeforeYAMLLine counts the "\n" before line n as go-yaml numbers
// lines: it also breaks lines at a lone "\r", which the file's line numbers
// do not count.
func newlinesBeforeYAMLLine(data []byte, n int) int {
	newlines, yamlLine := 0, 1
	for i := 0; i < len(data) && yamlLine < n; i++ {
		switch data[i] {
		case '\n':
			newlines++
			yamlLine++
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				continue // counted with its "\n"
			}
			yamlLine++
		}
	}
	return newlines
}

// decodeObject adds the object in one JSON value, flattening Lists.
func (b *decoder) decodeObject(src Source, data []byte, depth int) {
	var err error
	if t := bytes.TrimSpace(data); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return // an empty or comment-only document
	}
	h, ok := sniffHeader(data)
	if !ok {
		h = header{}
		err = kjson.Unmarshal(data, &h)
	}
	isMapping := bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
	if b.skipNonObjects && depth == 0 && (!isMapping || err == nil && (h.APIVersion == "" || h.Kind == "")) {
		b.v.noticef(Source{File: src.File}, notObjectNotice)
		return
	}
	if err != nil {
		if isMapping {
			b.v.errorf(src, "not a Kubernetes object: %v", err)
		} else {
			b.v.errorf(src, "not a Kubernetes object: expected a mapping with apiVersion and kind")
		}
		return
	}
	if h.APIVersion == "" || h.Kind == "" {
		b.v.errorf(src, "not a Kubernetes object: apiVersion and kind are required")
		return
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		b.v.errorf(src, "%s %s: invalid apiVersion %q: %v", h.Kind, h.Metadata.Name, h.APIVersion, err)
		return
	}
	if strings.HasSuffix(h.Kind, "List") && h.Items != nil {
		b.decodeList(src, &h, depth)
		return
	}
	doc := Document{Source: src, APIVersion: h.APIVersion, Kind: h.Kind,
		Namespace: h.Metadata.Namespace, Name: h.Metadata.Name, Raw: b.raw, RawLine: b.rawLine, InList: depth > 0, fastYAML: b.fastYAML}
	gvk := gv.WithKind(h.Kind)
	newObj, ok := decoders[gvk]
	if !ok {
		if want, known := supportedVersion(gvk); known {
			b.v.errorf(src, "%s %s: unsupported apiVersion %q: setwarden reads %s as %s; update the manifest to the current API",
				h.Kind, h.Metadata.Name, h.APIVersion, h.Kind, want)
			return
		}
		b.emit(&doc) // counted, not evaluated
		return
	}
	obj := newObj()
	if err := b.unmarshalTyped(data, obj, &doc, depth); err != nil {
		b.v.errorf(src, "%s %s: %v", h.Kind, h.Metadata.Name, err)
		return
	}
	doc.Object = obj
	b.emit(&doc)
}

func (b *decoder) emit(doc *Document) {
	if b.v.Document != nil {
		b.v.Document(doc)
	}
}

// decodeList adds every item of a List. Items carry the List's line: the
// conversion to JSON loses the items' own lines.
func (b *decoder) decodeList(src Source, h *header, depth int) {
	if depth >= maxListDepth {
		b.v.errorf(src, "%s nested more than %d levels deep", h.Kind, maxListDepth)
		return
	}
	if b.deferList != nil {
		b.deferList(b, src, h.Items, depth)
		return
	}
	for _, item := range h.Items {
		b.decodeObject(src, item, depth+1)
	}
}

// supportedVersion returns the apiVersion setwarden reads a built-in kind as,
// and whether gvk names such a kind in a built-in group.
func supportedVersion(gvk schema.GroupVersionKind) (string, bool) {
	if !builtinGroups[gvk.Group] {
		return "", false
	}
	for known := range decoders {
		if known.Kind == gvk.Kind {
			return known.GroupVersion().String(), true
		}
	}
	return "", false
}
