// Package kjson decodes Kubernetes objects from JSON as the API server's
// serializer (sigs.k8s.io/json) does, and describes decode errors by the
// field path users know. The webhook and `setwarden check` share it, so that
// both read the same bytes the same way and report the same message.
//
// It uses the encoding/json/v2 implementation (github.com/go-json-experiment/json),
// which decodes Kubernetes objects about twice as fast as encoding/json and,
// like the API server, matches field names case-sensitively. Decoding is
// most of the cost of an admission decision and of a check.
package kjson

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// options make encoding/json/v2 decode as sigs.k8s.io/json does: names
// match case-sensitively (the v2 default), a duplicate name wins over the
// earlier one and merges into it, a null keeps the value of a scalar or
// struct, and invalid UTF-8 becomes U+FFFD. Without the legacy merge, a
// later duplicate null would wipe a string and a repeated list would
// replace the earlier one.
var options = jsonv2.JoinOptions(
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
	jsonv1.MergeWithLegacySemantics(true),
	jsonv2.WithUnmarshalers(jsonv2.UnmarshalFunc(unmarshalQuantity)),
)

// maxQuantityExponentDigits bounds the decimal exponent of a quantity
// (1e9999 at most). resource.ParseQuantity takes practically forever on an
// exponent such as 1E999999999999 (it truncates it to 32 bits and rounds at
// that scale with big integers), and so does the API server's decoder; a
// real quantity never needs more than two digits of exponent.
const maxQuantityExponentDigits = 4

// unmarshalQuantity refuses quantities with an absurd exponent, then lets
// resource.Quantity decode the value as usual.
func unmarshalQuantity(data []byte, q *resource.Quantity) error {
	text := data
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := jsonv2.Unmarshal(data, &s, jsontext.AllowInvalidUTF8(true)); err != nil {
			return err
		}
		text = []byte(s)
	}
	if exponentDigits(text) > maxQuantityExponentDigits {
		return &hugeExponentError{quantity: string(text)}
	}
	return q.UnmarshalJSON(data)
}

// hugeExponentError is a quantity refused for its exponent.
type hugeExponentError struct{ quantity string }

func (e *hugeExponentError) Error() string {
	return fmt.Sprintf("the quantity %.40q has an exponent of more than %d digits; write it with a suffix such as Gi, M or m",
		e.quantity, maxQuantityExponentDigits)
}

// exponentDigits returns how many digits, leading zeros aside, follow the
// last e or E of a number such as 5e-3 or 1E999; 0 when there is none.
func exponentDigits(text []byte) int {
	i := bytes.LastIndexAny(text, "eE")
	if i < 0 {
		return 0
	}
	digits := bytes.TrimLeft(bytes.TrimLeft(text[i+1:], "+-"), "0")
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0 // a suffix such as Ei, not an exponent
		}
	}
	return len(digits)
}

// Unmarshal decodes data into the typed object into as the API server's
// decoder does (see options); unknown fields are ignored. Errors are *Error.
func Unmarshal(data []byte, into any) error {
	err := jsonv2.Unmarshal(data, into, options)
	if err == nil {
		return nil
	}
	return describe(err)
}

// Error is a decode error at a field.
type Error struct {
	// Field is the dotted path of the value that could not be decoded, such
	// as spec.template.spec.tolerations[0].key; empty for the whole object.
	Field string
	// Message says what went wrong there.
	Message string
	// Offset is the byte offset in the input the error was found at or after.
	Offset int64
	// Err is the underlying error of a type's own decoder, if any.
	Err error
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Error renders "field: message", or the message alone for the whole object.
func (e *Error) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// describe turns the decoder's errors into an *Error with a stable message:
// encoding/json/v2 words its own messages differently from run to run, on
// purpose, so that nobody depends on them.
func describe(err error) *Error {
	var semantic *jsonv2.SemanticError
	if errors.As(err, &semantic) {
		e := &Error{Field: FieldPath(string(semantic.JSONPointer)), Offset: semantic.ByteOffset}
		what := "a JSON " + kindName(semantic.JSONKind)
		if semantic.JSONKind == '0' && len(semantic.JSONValue) > 0 {
			what += " (" + string(semantic.JSONValue) + ")"
		}
		into := "this field"
		if semantic.GoType != nil {
			into = strings.TrimPrefix(semantic.GoType.String(), "*")
		}
		e.Message = fmt.Sprintf("cannot decode %s into %s", what, into)
		if semantic.JSONKind == 0 {
			e.Message = "cannot decode the value into " + into
		}
		if semantic.Err != nil {
			e.Message += ": " + semantic.Err.Error()
			e.Err = semantic.Err
		}
		return e
	}
	var syntactic *jsontext.SyntacticError
	if errors.As(err, &syntactic) {
		msg := "invalid JSON"
		if syntactic.Err != nil {
			msg += ": " + syntactic.Err.Error()
		}
		if syntactic.ByteOffset > 0 {
			msg += " after byte " + strconv.FormatInt(syntactic.ByteOffset, 10)
		}
		return &Error{Field: FieldPath(string(syntactic.JSONPointer)), Message: msg, Offset: syntactic.ByteOffset}
	}
	return &Error{Message: strings.TrimPrefix(err.Error(), "json: ")}
}

// kindName names a JSON kind as people say it.
func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "value"
}

// FieldPath turns a JSON pointer (RFC 6901) into the dotted field path of
// Kubernetes' field errors: /spec/containers/0/name becomes
// spec.containers[0].name. Numeric tokens are taken as list indexes, which
// is what they are in Kubernetes objects; map keys that look like numbers
// are rare enough that the ambiguity costs nothing.
func FieldPath(pointer string) string {
	var b strings.Builder
	for token := range jsontext.Pointer(pointer).Tokens() {
		if _, err := strconv.ParseUint(token, 10, 63); err == nil && b.Len() > 0 {
			b.WriteString("[" + token + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(token)
	}
	return b.String()
}
