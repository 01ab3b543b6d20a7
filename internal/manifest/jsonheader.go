package manifest

import "bytes"

// sniffHeader reads the header of a JSON object without decoding the rest,
// for the common case: apiVersion, kind, metadata.name and
// metadata.namespace are strings without escapes, and there is no items
// field. Anything else (a List, a field of the wrong type) reports false,
// and the caller decodes the header with encoding/json/v2. Names match
// case-sensitively, as there. data must be valid JSON.
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
				return true
			})
		case "items":
			return false
		}
		return true
	})
	return h, ok
}

// jsonStringValue sets *dst to value when it is a string without escapes;
// null leaves it, as decodeOptions do.
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
			if i = skipJSONString(data, i); i < 0 {
				return -1
			}
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

// skipJSONString returns the end of the string that starts at i, or -1.
// It jumps from quote to quote, as most strings have no escapes.
func skipJSONString(data []byte, i int) int {
	for i++; ; i++ {
		end := bytes.IndexByte(data[i:], '"')
		if end < 0 {
			return -1
		}
		i += end
		backslashes := 0
		for j := i - 1; data[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i + 1
		}
	}
}
