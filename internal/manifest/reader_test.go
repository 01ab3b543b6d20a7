package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// readResult is a Bundle flattened to strings, so that a case states all of
// it in a few readable lines.
type readResult struct {
	Docs    []string // "file:line apiVersion Kind namespace/name typed|untyped"
	Errors  []string // "file:line: message"
	Notices []string
}

func flatten(b *Bundle) readResult {
	var r readResult
	for _, d := range b.Documents {
		typed := "untyped"
		if d.Object != nil {
			typed = fmt.Sprintf("%T", d.Object)
		}
		r.Docs = append(r.Docs, fmt.Sprintf("%s %s %s %s/%s %s", d.Source, d.APIVersion, d.Kind, d.Namespace, d.Name, typed))
	}
	for _, p := range b.Errors {
		r.Errors = append(r.Errors, p.Source.String()+": "+p.Message)
	}
	for _, p := range b.Notices {
		r.Notices = append(r.Notices, p.Source.String()+": "+p.Message)
	}
	return r
}

// manifestWriteFiles creates files (path -> content) under the current
// directory. A content starting with "symlink:" makes a symbolic link to
// the rest, and "fifo" makes a named pipe.
func manifestWriteFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "symlink:"):
			err = os.Symlink(strings.TrimPrefix(content, "symlink:"), name)
		case content == "fifo":
			err = syscall.Mkfifo(name, 0o644)
		default:
			err = os.WriteFile(name, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

const (
	stsYAML = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: redis\n  namespace: data\nspec:\n  serviceName: redis\n"
	svcYAML = "apiVersion: v1\nkind: Service\nmetadata:\n  name: redis\n  namespace: data\nspec:\n  clusterIP: None\n"
)

func TestManifestReader(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		stdin string
		paths []string
		want  readResult
	}{
		{
			name:  "a multi-document file yields every object at the line of its first non-comment line",
			files: map[string]string{"all.yaml": "# Redis\n" + stsYAML + "---\n# Source: redis/templates/svc.yaml\n" + svcYAML},
			paths: []string{"all.yaml"},
			want: readResult{Docs: []string{
				"all.yaml:2 apps/v1 StatefulSet data/redis *v1.StatefulSet",
				"all.yaml:11 v1 Service data/redis *v1.Service",
			}},
		},
		{
			name: "a comment on the separator line is not part of the object",
			files: map[string]string{"helm.yaml": "--- # Source: redis/templates/svc.yaml\n" + svcYAML +
				"---\n" + stsYAML},
			paths: []string{"helm.yaml"},
			want: readResult{Docs: []string{
				"helm.yaml:2 v1 Service data/redis *v1.Service",
				"helm.yaml:10 apps/v1 StatefulSet data/redis *v1.StatefulSet",
			}},
		},
		{
			name:  "empty and comment-only documents are skipped silently",
			files: map[string]string{"sparse.yaml": "---\n---\n# nothing here\n---\n\n" + svcYAML + "---\n...\n"},
			paths: []string{"sparse.yaml"},
			want:  readResult{Docs: []string{"sparse.yaml:6 v1 Service data/redis *v1.Service"}},
		},
		{
			name: "the items of a List, nested Lists included, carry the line of the outer List",
			files: map[string]string{"list.yaml": "# kubectl get -o yaml\napiVersion: v1\nkind: List\nitems:\n" +
				"- {apiVersion: v1, kind: Service, metadata: {name: a}}\n" +
				"- {apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: ConfigMap, metadata: {name: b}}]}\n" +
				"- {apiVersion: apps/v1, kind: DaemonSet, metadata: {name: c, namespace: logging}}\n"},
			paths: []string{"list.yaml"},
			want: readResult{Docs: []string{
				"list.yaml:2 v1 Service /a *v1.Service",
				"list.yaml:2 v1 ConfigMap /b untyped",
				"list.yaml:2 apps/v1 DaemonSet logging/c *v1.DaemonSet",
			}},
		},
		{
			name: "a JSON file may hold a stream of objects, each at the line of its opening brace",
			files: map[string]string{"objs.json": "{\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"name\": \"n1\"}}\n\n" +
				"{\n  \"apiVersion\": \"batch/v1\",\n  \"kind\": \"CronJob\",\n  \"metadata\": {\"name\": \"backup\"}\n}\n"},
			paths: []string{"objs.json"},
			want: readResult{Docs: []string{
				"objs.json:1 v1 Node /n1 *v1.Node",
				"objs.json:3 batch/v1 CronJob /backup *v1.CronJob",
			}},
		},
		{
			name:  "invalid JSON names the line of the syntax error",
			files: map[string]string{"bad.json": "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"Pod\"\n  \"metadata\": {}\n}\n"},
			paths: []string{"bad.json"},
			want:  readResult{Errors: []string{"bad.json:4: invalid JSON: invalid character '\"' after object key:value pair"}},
		},
		{
			name: "invalid YAML names the file line, and the documents around it are still read",
			files: map[string]string{"mixed.yaml": svcYAML + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   labels: {}\n" +
				"---\n" + stsYAML},
			paths: []string{"mixed.yaml"},
			want: readResult{
				Docs: []string{
					"mixed.yaml:1 v1 Service data/redis *v1.Service",
					"mixed.yaml:15 apps/v1 StatefulSet data/redis *v1.StatefulSet",
				},
				Errors: []string{"mixed.yaml:13: invalid YAML: yaml: line 13: mapping values are not allowed in this context"},
			},
		},
		{
			name: "a value of the wrong type names the object and the field",
			files: map[string]string{"typo.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n" +
				"spec:\n  replicas: three\n"},
			paths: []string{"typo.yaml"},
			want:  readResult{Errors: []string{"typo.yaml:1: Deployment web: spec.replicas: cannot decode a JSON string into int32"}},
		},
		{
			name: "a quantity with an absurd exponent is an error at once, not a hang",
			files: map[string]string{"huge.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n" +
				"    resources:\n      limits:\n        memory: 1E999999999999\n"},
			paths: []string{"huge.yaml"},
			want: readResult{Errors: []string{"huge.yaml:1: Pod p: spec.containers[0].resources.limits.memory: cannot decode a JSON string into resource.Quantity: " +
				`the quantity "1E999999999999" has an exponent of more than 4 digits; write it with a suffix such as Gi, M or m`}},
		},
		{
			name: "known kinds under retired apiVersions are errors, not silently passed",
			files: map[string]string{"old.yaml": "apiVersion: apps/v1beta1\nkind: StatefulSet\nmetadata: {name: zk}\n---\n" +
				"apiVersion: extensions/v1beta1\nkind: DaemonSet\nmetadata: {name: agent}\n"},
			paths: []string{"old.yaml"},
			want: readResult{Errors: []string{
				`old.yaml:1: StatefulSet zk: unsupported apiVersion "apps/v1beta1": setwarden reads StatefulSet as apps/v1; update the manifest to the current API`,
				`old.yaml:5: DaemonSet agent: unsupported apiVersion "extensions/v1beta1": setwarden reads DaemonSet as apps/v1; update the manifest to the current API`,
			}},
		},
		{
			name: "other kinds are read without a typed object, a Service of a foreign group included",
			files: map[string]string{"misc.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\n---\n" +
				"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: hello}\n"},
			paths: []string{"misc.yaml"},
			want: readResult{Docs: []string{
				"misc.yaml:1 v1 ConfigMap /cfg untyped",
				"misc.yaml:5 serving.knative.dev/v1 Service /hello untyped",
			}},
		},
		{
			name:  "a document that is not an object with apiVersion and kind is an error",
			files: map[string]string{"values.yaml": "replicaCount: 3\n---\n- a\n- b\n"},
			paths: []string{"values.yaml"},
			want: readResult{Errors: []string{
				"values.yaml:1: not a Kubernetes object: apiVersion and kind are required",
				"values.yaml:3: not a Kubernetes object: expected a mapping with apiVersion and kind",
			}},
		},
		{
			name:  "a header field of the wrong type names the field",
			files: map[string]string{"num.yaml": "apiVersion: 1\nkind: Pod\n"},
			paths: []string{"num.yaml"},
			want:  readResult{Errors: []string{"num.yaml:1: not a Kubernetes object: apiVersion: cannot decode a JSON number into string"}},
		},
		{
			name: "a directory is read recursively in lexical order, for .yaml, .yml and .json files only",
			files: map[string]string{
				"dir/b.yml":           svcYAML,
				"dir/a/c.json":        `{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}`,
				"dir/README.md":       "# not a manifest",
				"dir/kustomize.yaml~": stsYAML,
			},
			paths: []string{"dir"},
			want: readResult{Docs: []string{
				"dir/a/c.json:1 v1 Node /n1 *v1.Node",
				"dir/b.yml:1 v1 Service data/redis *v1.Service",
			}},
		},
		{
			name: "a binary file in a directory is skipped with a notice",
			files: map[string]string{
				"dir/chart.yaml": "\x89PNG\r\n\x1a\n\x00\x00",
				"dir/svc.yaml":   svcYAML,
			},
			paths: []string{"dir"},
			want: readResult{
				Docs:    []string{"dir/svc.yaml:1 v1 Service data/redis *v1.Service"},
				Notices: []string{"dir/chart.yaml: skipped: not UTF-8 text"},
			},
		},
		{
			name:  "a binary file named explicitly is an error",
			files: map[string]string{"latin1.yaml": "name: caf\xe9\n"},
			paths: []string{"latin1.yaml"},
			want:  readResult{Errors: []string{"latin1.yaml: not UTF-8 text"}},
		},
		{
			name: "a symbolic link loop is followed once and reported",
			files: map[string]string{
				"dir/svc.yaml":     svcYAML,
				"dir/sub/loop":     "symlink:..",
				"dir/sub/sts.yaml": stsYAML,
			},
			paths: []string{"dir"},
			want: readResult{
				Docs: []string{
					"dir/sub/sts.yaml:1 apps/v1 StatefulSet data/redis *v1.StatefulSet",
					"dir/svc.yaml:1 v1 Service data/redis *v1.Service",
				},
				Notices: []string{"dir/sub/loop: skipped: directory already read (a symbolic link loop or a second link to it)"},
			},
		},
		{
			name: "a file reached twice through a symbolic link is read once",
			files: map[string]string{
				"dir/..data/svc.yaml": svcYAML,
				"dir/svc.yaml":        "symlink:..data/svc.yaml",
			},
			paths: []string{"dir", "dir/svc.yaml"},
			want:  readResult{Docs: []string{"dir/..data/svc.yaml:1 v1 Service data/redis *v1.Service"}},
		},
		{
			name:  "a named pipe in a directory is skipped instead of blocking",
			files: map[string]string{"dir/pipe.yaml": "fifo"},
			paths: []string{"dir"},
			want:  readResult{Notices: []string{"dir/pipe.yaml: skipped: not a regular file"}},
		},
		{
			name:  "standard input is read for -, once, and reported as <stdin>",
			stdin: "# piped\n" + svcYAML,
			paths: []string{"-", "-"},
			want: readResult{
				Docs:   []string{"<stdin>:2 v1 Service data/redis *v1.Service"},
				Errors: []string{"<stdin>: standard input is named more than once"},
			},
		},
		{
			name:  "JSON objects separated by --- lines are read as kubectl reads them, each at its line",
			files: map[string]string{"svc.json": `{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis", "namespace": "data"}}` + "\n---\n\n" + `{"apiVersion": "apps/v1", "kind": "StatefulSet",` + "\n" + ` "metadata": {"name": "redis", "namespace": "data"}}` + "\n"},
			paths: []string{"svc.json"},
			want:  readResult{Docs: []string{"svc.json:1 v1 Service data/redis *v1.Service", "svc.json:4 apps/v1 StatefulSet data/redis *v1.StatefulSet"}},
		},
		{
			name:  "a path that does not exist is an error, and the next path is still read",
			files: map[string]string{"svc.yaml": svcYAML},
			paths: []string{"missing.yaml", "svc.yaml"},
			want: readResult{
				Docs:   []string{"svc.yaml:1 v1 Service data/redis *v1.Service"},
				Errors: []string{"missing.yaml: no such file or directory"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			manifestWriteFiles(t, tt.files)
			r := &Reader{Stdin: strings.NewReader(tt.stdin)}
			got := flatten(r.Read(t.Context(), tt.paths))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Read(%q) mismatch (-want +got):\n%s", tt.paths, diff)
			}
		})
	}
}

func TestManifestReaderDecodesTypedFields(t *testing.T) {
	t.Chdir(t.TempDir())
	manifestWriteFiles(t, map[string]string{"sts.yaml": stsYAML + "  replicas: 3\n  template:\n    spec:\n" +
		"      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]\n"})
	b := (&Reader{}).Read(t.Context(), []string{"sts.yaml"})
	if len(b.Errors) > 0 || len(b.Documents) != 1 {
		t.Fatalf("Read() = %+v, want one document", flatten(b))
	}
	sts, ok := b.Documents[0].Object.(*appsv1.StatefulSet)
	if !ok {
		t.Fatalf("Object is %T, want *appsv1.StatefulSet", b.Documents[0].Object)
	}
	want := []corev1.Toleration{{Key: "node-role.kubernetes.io/control-plane", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	if diff := cmp.Diff(want, sts.Spec.Template.Spec.Tolerations); diff != "" {
		t.Errorf("tolerations mismatch (-want +got):\n%s", diff)
	}
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 3 || sts.Spec.ServiceName != "redis" || sts.Namespace != "data" {
		t.Errorf("decoded spec = %+v, want replicas 3 and serviceName redis in namespace data", sts.Spec)
	}
}
