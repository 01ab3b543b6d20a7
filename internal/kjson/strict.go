package kjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/setwarden/setwarden/internal/spelling"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// strictOptions are options that also stop at the first unknown member
// and, when asked, at the first duplicate name. A document without either
// decodes in one pass at the cost of a plain Unmarshal; the others are
// decoded again leniently and walked for every strict error (see
// UnmarshalStrict).
var (
	strictOptions         = jsonv2.JoinOptions(options, jsonv2.RejectUnknownMembers(true))
	strictOptionsNoDupes  = jsonv2.JoinOptions(strictOptions, jsontext.AllowDuplicateNames(false))
	unknownFieldDetail    = "unknown field"
	duplicateFieldDetail  = "duplicate field"
	maxSuggestionDistance = 2
)

// UnmarshalStrict decodes data into the typed object into exactly as
// Unmarshal does, and also returns the strict decoding errors the API
// server's strict field validation would raise: one field.Error for each
// unknown field and each duplicate name, with the full field path. Names
// are checked against the json tags of into's Go type.
//
// checkDuplicates asks for duplicate names to be found; JSON converted from
// YAML has none (the conversion keeps one of them), so its callers skip the
// cost. lineOf, when set, turns a byte offset in data into a file line, for
// the lines a duplicate message names.
func UnmarshalStrict(data []byte, into any, checkDuplicates bool, lineOf func(offset int64) int) (field.ErrorList, error) {
	opts := strictOptions
	if checkDuplicates {
		opts = strictOptionsNoDupes
	}
	err := jsonv2.Unmarshal(data, into, opts)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, jsonv2.ErrUnknownName) && !errors.Is(err, jsontext.ErrDuplicateName) {
		return nil, describe(err)
	}
	// The strict decode stopped half-way: decode again as usual, then
	// walk the text for every strict error.
	v := reflect.ValueOf(into).Elem()
	v.SetZero()
	if err := Unmarshal(data, into); err != nil {
		return nil, err
	}
	return StrictErrors(data, v.Type(), checkDuplicates, lineOf), nil
}

// StrictErrors walks the JSON value in data alongside the Go type t and
// returns a Forbidden field.Error for each unknown field and, with
// checkDuplicates, for each name that occurs more than once in an object.
// It does not decode; data must be valid JSON.
func StrictErrors(data []byte, t reflect.Type, checkDuplicates bool, lineOf func(offset int64) int) field.ErrorList {
	w := &strictWalker{
		dec:        jsontext.NewDecoder(bytes.NewReader(data), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)),
		duplicates: checkDuplicates,
		lineOf:     lineOf,
		seen:       map[string]bool{},
	}
	if err := w.value(t, nil); err != nil {
		return append(w.errs, field.InternalError(nil, err))
	}
	return w.errs
}

// strictWalker reads one JSON value token by token.
type strictWalker struct {
	dec        *jsontext.Decoder
	duplicates bool
	lineOf     func(int64) int
	errs       field.ErrorList
	// seen holds the paths already reported, so that the members of a
	// duplicated object are not reported once per occurrence.
	seen map[string]bool
}

func (w *strictWalker) add(err *field.Error) {
	kind, _, _ := strings.Cut(err.Detail, " ") // "unknown" or "duplicate"
	key := kind + " " + err.Field
	if !w.seen[key] {
		w.seen[key] = true
		w.errs = append(w.errs, err)
	}
}

// value walks one value of Go type t (nil: a type whose fields are not
// known, whose names are only checked for duplicates).
func (w *strictWalker) value(t reflect.Type, path *field.Path) error {
	t = normalize(t)
	switch w.dec.PeekKind() {
	case '{':
		return w.object(t, path)
	case '[':
		if _, err := w.dec.ReadToken(); err != nil {
			return err
		}
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.PeekKind() != ']'; i++ {
			if err := w.value(elem, path.Index(i)); err != nil {
				return err
			}
		}
		_, err := w.dec.ReadToken()
		return err
	default:
		return w.dec.SkipValue()
	}
}

// object walks a JSON object as the struct or map type t.
func (w *strictWalker) object(t reflect.Type, path *field.Path) error {
	if _, err := w.dec.ReadToken(); err != nil {
		return err
	}
	var fields *structFields
	var elem reflect.Type
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	var lines map[string][]int64 // offsets of each name, for duplicates
	if w.duplicates {
		lines = map[string][]int64{}
	}
	var order []string
	for w.dec.PeekKind() != '}' {
		tok, err := w.dec.ReadToken()
		if err != nil {
			return err
		}
		name := tok.String()
		if lines != nil {
			if _, ok := lines[name]; !ok {
				order = append(order, name)
			}
			lines[name] = append(lines[name], w.dec.InputOffset())
		}
		child, next := path.Child(name), elem
		switch {
		case fields != nil:
			ft, known := fields.byName[name]
			if !known {
				w.add(field.Forbidden(child, unknownFieldMessage(name, fields)))
				if err := w.dec.SkipValue(); err != nil {
					return err
				}
				continue
			}
			next = ft
		case t != nil && t.Kind() == reflect.Map:
			child = path.Key(name)
		}
		if err := w.value(next, child); err != nil {
			return err
		}
	}
	for _, name := range order {
		if offsets := lines[name]; len(offsets) > 1 {
			child := path.Child(name)
			if fields == nil && t != nil && t.Kind() == reflect.Map {
				child = path.Key(name)
			}
			w.add(field.Forbidden(child, w.duplicateMessage(offsets)))
		}
	}
	_, err := w.dec.ReadToken()
	return err
}

// duplicateMessage names the lines of a duplicate when they are known.
func (w *strictWalker) duplicateMessage(offsets []int64) string {
	if w.lineOf == nil {
		return duplicateFieldDetail
	}
	lines := make([]int, len(offsets))
	for i, off := range offsets {
		lines[i] = w.lineOf(off)
	}
	return DuplicateFieldMessage(lines)
}

// DuplicateFieldMessage is the detail of a duplicate field found at the
// given lines: "duplicate field, at lines 3 and 9".
func DuplicateFieldMessage(lines []int) string {
	if len(lines) < 2 {
		return duplicateFieldDetail
	}
	text := make([]string, len(lines))
	for i, l := range lines {
		text[i] = fmt.Sprint(l)
	}
	return duplicateFieldDetail + ", at lines " + strings.Join(text[:len(text)-1], ", ") + " and " + text[len(text)-1]
}

// unknownFieldMessage is the detail of an unknown field, with the closest
// known name of its struct when one is close.
func unknownFieldMessage(name string, fields *structFields) string {
	if s := suggest(name, fields.names); s != "" {
		return fmt.Sprintf("%s; did you mean %q?", unknownFieldDetail, s)
	}
	return unknownFieldDetail
}

// suggest returns the known name that differs from name only in case, or
// else the one at the smallest edit distance of at most 2 (the first in
// field order on a tie); "" when none is close.
func suggest(name string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	best, bestDist := "", maxSuggestionDistance+1
	for _, k := range known {
		if d := spelling.Distance(name, k, bestDist); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// structFields are the JSON names of a struct type, inlined structs
// included, with the Go type of each.
type structFields struct {
	byName map[string]reflect.Type
	names  []string // in field order, for stable suggestions
}

var fieldCache sync.Map // reflect.Type → *structFields

// fieldsOf returns the JSON fields of the struct type t, computed once.
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: map[string]reflect.Type{}}
	f.collect(t)
	actual, _ := fieldCache.LoadOrStore(t, f)
	return actual.(*structFields)
}

// collect adds the fields of t; an outer field wins over an inlined one of
// the same name, as in encoding/json.
func (f *structFields) collect(t reflect.Type) {
	var inlined []reflect.Type
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" && ft.Kind() == reflect.Struct && (sf.Anonymous || hasOption(opts, "inline")) {
			inlined = append(inlined, ft)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := f.byName[name]; !dup {
			f.byName[name] = sf.Type
			f.names = append(f.names, name)
		}
	}
	for _, t := range inlined {
		f.collect(t)
	}
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

var (
	unmarshalerV1   = reflect.TypeFor[json.Unmarshaler]()
	unmarshalerV2   = reflect.TypeFor[jsonv2.UnmarshalerFrom]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// opaque reports whether values of t decode themselves (Quantity, Time,
// IntOrString): their insides are not fields.
func opaque(t reflect.Type) bool {
	for _, u := range []reflect.Type{t, reflect.PointerTo(t)} {
		if u.Implements(unmarshalerV1) || u.Implements(unmarshalerV2) || u.Implements(textUnmarshaler) {
			return true
		}
	}
	return false
}

// Member returns how the member called name of a JSON object decoded into
// the Go type t is decoded: its Go type (nil when t's members are not
// known: a map of interfaces, or a type that decodes itself) and whether it
// is a map entry rather than a struct field. For a struct, known is false
// when it has no such field.
func Member(t reflect.Type, name string) (member reflect.Type, mapEntry, known bool) {
	switch t = normalize(t); {
	case t == nil:
		return nil, false, true
	case t.Kind() == reflect.Struct:
		member, known = fieldsOf(t).byName[name]
		return member, false, known
	case t.Kind() == reflect.Map:
		return t.Elem(), true, true
	}
	return nil, false, true
}

// Element returns the Go type of the items of a JSON array decoded into t;
// nil when unknown.
func Element(t reflect.Type) reflect.Type {
	if t = normalize(t); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}

// normalize dereferences pointers, and returns nil for types whose insides
// are not fields.
func normalize(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (opaque(t) || t.Kind() == reflect.Interface) {
		return nil
	}
	return t
}
