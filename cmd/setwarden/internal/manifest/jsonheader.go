package manifest

import "bytes"

// sniffHeader reads the header of a JSON object without decoding the rest,
// for the common case: apiVersion, kind, metadata.name and
// metadata.namespace are strings without escapes, and there is no items
// field. Anything else (a List, a field of the wrong type, a key that
// differs from a header field only in case, which encoding/json would
// match) reports false, and the caller decodes the header with
// encoding/json. data must be valid JSON.
func sniffHeader(data []byte) (h header, ok bool) {
	ok = forEachMember(data, func(key, value []byte) bool {
		switch string(key) {
		case "apiVersion":
			return jsonStringValue(value, &h.APIVersion)
		case "kind":
			return jsonStringValue(value, &h.Kind)
		case "metadata":
			return forEachMember(value, func(key, value []byte) bool {
				switch string(key) {
				case "name":
					return jsonStringValue(value, &h.Metadata.Name)
				case "namespace":
					return jsonStringValue(value, &h.Metadata.Namespace)
				}
				return !foldsTo(key, "name") && !foldsTo(key, "namespace")
			})
		}
		return !foldsTo(key, "apiVersion") && !foldsTo(key, "kind") && !foldsTo(key, "metadata") && !foldsTo(key, "items")
	})
	return h, ok
}

// foldsTo reports whether key matches name case-insensitively, as
// encoding/json matches struct fields.
func foldsTo(key []byte, name string) bool {
	return bytes.EqualFold(key, []byte(name))
}

// jsonStringValue sets *dst to value when it is a string without escapes;
// null leaves it, as encoding/json does.
func jsonStringValue(value []byte, dst *string) bool {
	if string(value) == "null" {
		return true
	}
	if len(value) < 2 || value[0] != '"' || bytes.IndexByte(value[1:len(value)-1], '\\') >= 0 {
		return false
	}
	*dst = string(value[1 : len(value)-1])
	return true
}

// forEachMember calls fn with the raw key (without quotes) and raw value of
// each member of the JSON object data, until fn returns false. It reports
// false when data is not an object, a key has escapes, or fn said so.
func forEachMember(data []byte, fn func(key, value []byte) bool) bool {
	i := skipJSONSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	for i < len(data) {
		end := skipJSONValue(data, i)
		if end < 0 || data[i] != '"' || bytes.IndexByte(data[i+1:end-1], '\\') >= 0 {
			return false
		}
		key := data[i+1 : end-1]
		i = skipJSONSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipJSONSpace(data, i+1)
		end = skipJSONValue(data, i)
		if end < 0 || !fn(key, data[i:end]) {
			return false
		}
		i = skipJSONSpace(data, end)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			return true
		case ',':
			i = skipJSONSpace(data, i+1)
		default:
			return false
		}
	}
	return false
}

func skipJSONSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipJSONValue returns the end of the valid JSON value that starts at i,
// or -1.
func skipJSONValue(data []byte, i int) int {
	depth := 0
	for i < len(data) {
		switch c := data[i]; c {
		case '"':
			i++
			for i < len(data) && data[i] != '"' {
				if data[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(data) {
				return -1
			}
			i++
		case '{', '[':
			depth++
			i++
			continue
		case '}', ']':
			depth--
			if depth < 0 {
				return -1
			}
			i++
		default:
			if depth > 0 {
				i++
				continue
			}
			start := i
			for i < len(data) && bytes.IndexByte([]byte(" \t\r\n,}]:"), data[i]) < 0 {
				i++
			}
			if i == start {
				return -1
			}
		}
		if depth == 0 {
			return i
		}
	}
	return -1
}
