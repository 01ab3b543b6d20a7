package fastyaml

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// plainKind is how go-yaml v2 (YAML 1.1) types a plain scalar, as far as
// the fast path needs to know.
type plainKind int

const (
	plainString plainKind = iota
	plainNull
	plainTrue
	plainFalse
	plainInt     // a decimal integer without leading zeros
	plainOctal   // an octal integer such as 0644 (YAML 1.1)
	plainDecline // a float, timestamp, hex or other number: slow path
)

// resolvePlain types a plain scalar as go-yaml v2's resolve does, except
// that every kind of scalar the fast path does not render is plainDecline.
// Whatever v2 does not read as something else is a string: 100m, 64Mi,
// 25%, 1.2.3.
func resolvePlain(s []byte) plainKind {
	if len(s) == 0 {
		return plainNull
	}
	switch string(s) {
	case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON":
		return plainTrue
	case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
		return plainFalse
	case "~", "null", "Null", "NULL":
		return plainNull
	case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<":
		return plainDecline
	}
	switch c := s[0]; {
	case c == '.':
		if onlyNumberChars(s) {
			return plainDecline // maybe a float such as .5
		}
		return plainString
	case c >= '0' && c <= '9', c == '+', c == '-':
		return resolveNumeric(s)
	}
	return plainString
}

// resolveNumeric types a plain scalar that starts with a digit or a sign:
// v2 tries a timestamp, then strconv.ParseInt and ParseUint with base 0
// (after removing underscores), then a YAML float, then 0b binary.
func resolveNumeric(s []byte) plainKind {
	if len(s) >= 5 && isDigits(s[:4]) && s[4] == '-' {
		return plainDecline // maybe a timestamp
	}
	if bytes.IndexByte(s, '_') >= 0 {
		// v2 removes underscores before parsing a number: decline
		// unless a character rules every number out.
		if onlyNumberLiteralChars(s) {
			return plainDecline
		}
		return plainString
	}
	body := s
	if body[0] == '+' || body[0] == '-' {
		body = body[1:]
	}
	switch {
	case len(body) == 0:
		return plainString
	case isDigits(body):
		switch {
		case len(body) > 18:
			return plainDecline // near the int64 limits
		case body[0] == '0' && len(body) > 1:
			if isOctal(body) {
				return plainOctal // YAML 1.1: 0644
			}
			return plainDecline // 08 is a float
		}
		return plainInt
	case len(body) > 1 && body[0] == '0' && bytes.IndexByte([]byte("xXoObB"), body[1]) >= 0:
		return plainDecline
	case isYAMLFloat(s):
		return plainDecline
	}
	return plainString
}

// onlyNumberLiteralChars reports whether s is made of characters that an
// integer of any base (0x, 0o, 0b), a float or a timestamp may contain.
func onlyNumberLiteralChars(s []byte) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || bytes.IndexByte([]byte("_+-.xXoObBtTzZ:"), c) >= 0) {
			return false
		}
	}
	return true
}

func isOctal(s []byte) bool {
	for _, c := range s {
		if c < '0' || c > '7' {
			return false
		}
	}
	return true
}

func isDigits(s []byte) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) > 0
}

// onlyNumberChars reports whether s is made of characters that
// strconv.ParseFloat may accept.
func onlyNumberChars(s []byte) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isYAMLFloat matches v2's yamlStyleFloat,
// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$.
func isYAMLFloat(s []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	} else {
		if digits() == 0 {
			return false
		}
		if i < len(s) && s[i] == '.' {
			i++
			digits()
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// appendPlain writes a plain scalar as JSON, or reports false to decline.
func appendPlain(dst, s []byte) ([]byte, bool) {
	switch resolvePlain(s) {
	case plainString:
		return appendJSONString(dst, s), true
	case plainNull:
		return append(dst, "null"...), true
	case plainTrue:
		return append(dst, "true"...), true
	case plainFalse:
		return append(dst, "false"...), true
	case plainOctal:
		neg := s[0] == '-'
		if s[0] == '+' || neg {
			s = s[1:]
		}
		var v uint64
		for _, c := range s {
			v = v<<3 | uint64(c-'0')
		}
		if neg && v != 0 {
			dst = append(dst, '-')
		}
		return strconv.AppendUint(dst, v, 10), true
	case plainInt:
		if s[0] == '+' {
			s = s[1:]
		}
		if len(s) == 2 && s[0] == '-' && s[1] == '0' {
			s = s[1:]
		}
		return append(dst, s...), true
	}
	return dst, false
}

// appendJSONString writes s, valid UTF-8, as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// quoted reads the single- or double-quoted scalar that starts text and
// ends on the same line. It returns its value and the length of its text.
func quoted(text []byte) (value []byte, n int, ok bool) {
	if text[0] == '\'' {
		return singleQuoted(text)
	}
	end := 1
	for end < len(text) && text[end] != '"' && text[end] != '\\' {
		end++
	}
	if end < len(text) && text[end] == '"' {
		return text[1:end], end + 1, true
	}
	value = append([]byte(nil), text[1:end]...)
	for i := end; i < len(text); {
		switch c := text[i]; c {
		case '"':
			return value, i + 1, true
		case '\\':
			var size int
			if value, size, ok = appendEscape(value, text[i:]); !ok {
				return nil, 0, false
			}
			i += size
		default:
			value = append(value, c)
			i++
		}
	}
	return nil, 0, false // continues on the next line
}

func singleQuoted(text []byte) ([]byte, int, bool) {
	end := bytes.IndexByte(text[1:], '\'')
	if end < 0 {
		return nil, 0, false
	}
	end++
	if end+1 >= len(text) || text[end+1] != '\'' {
		return text[1:end], end + 1, true
	}
	var value []byte
	for i := 1; i < len(text); i++ {
		if text[i] != '\'' {
			value = append(value, text[i])
			continue
		}
		if i+1 < len(text) && text[i+1] == '\'' {
			value = append(value, '\'')
			i++
			continue
		}
		return value, i + 1, true
	}
	return nil, 0, false
}

// appendEscape decodes the escape sequence that starts esc, a subset of
// YAML's; others decline.
func appendEscape(dst, esc []byte) ([]byte, int, bool) {
	if len(esc) < 2 {
		return nil, 0, false
	}
	switch esc[1] {
	case '0':
		return append(dst, 0), 2, true
	case 'a':
		return append(dst, '\a'), 2, true
	case 'b':
		return append(dst, '\b'), 2, true
	case 't':
		return append(dst, '\t'), 2, true
	case 'n':
		return append(dst, '\n'), 2, true
	case 'v':
		return append(dst, '\v'), 2, true
	case 'f':
		return append(dst, '\f'), 2, true
	case 'r':
		return append(dst, '\r'), 2, true
	case 'e':
		return append(dst, 0x1b), 2, true
	case ' ', '"', '\\':
		return append(dst, esc[1]), 2, true
	case 'x', 'u', 'U':
		size := 2
		switch esc[1] {
		case 'u':
			size = 4
		case 'U':
			size = 8
		}
		if len(esc) < 2+size {
			return nil, 0, false
		}
		r := rune(0)
		for _, c := range esc[2 : 2+size] {
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return nil, 0, false
			}
			r = r<<4 | rune(d)
		}
		if r >= 0xd800 && r <= 0xdfff || r > utf8.MaxRune {
			return nil, 0, false
		}
		return utf8.AppendRune(dst, r), 2 + size, true
	}
	return nil, 0, false
}

// flow reads a flow sequence or mapping that ends on the same line, and
// returns the length of its text.
func (f *Converter) flow(text []byte, depth int) (int, bool) {
	if depth > maxFastDepth {
		return 0, false
	}
	seq, closer := text[0] == '[', byte('}')
	if seq {
		closer = ']'
	}
	f.out = append(f.out, text[0])
	firstKey := len(f.keys)
	i := skipSpaces(text, 1)
	for n := 0; ; n++ {
		if i >= len(text) {
			return 0, false // continues on the next line
		}
		if text[i] == closer {
			f.out = append(f.out, closer)
			f.keys = f.keys[:firstKey]
			return i + 1, true
		}
		if n > 0 {
			if text[i] != ',' {
				return 0, false
			}
			f.out = append(f.out, ',')
			i = skipSpaces(text, i+1)
		}
		if !seq {
			m, ok := f.flowKey(text[i:], firstKey)
			if !ok {
				return 0, false
			}
			i = skipSpaces(text, i+m)
		}
		m, ok := f.flowNode(text[i:], depth)
		if !ok {
			return 0, false
		}
		i = skipSpaces(text, i+m)
	}
}

// flowKey reads "key: " in a flow mapping and writes the key.
func (f *Converter) flowKey(text []byte, firstKey int) (int, bool) {
	var key []byte
	var n int
	if len(text) > 0 && (text[0] == '"' || text[0] == '\'') {
		var ok bool
		if key, n, ok = quoted(text); !ok || n > 512 {
			return 0, false
		}
	} else {
		n = bytes.IndexAny(text, ":,[]{}#")
		if n < 0 || text[n] != ':' {
			return 0, false
		}
		key = bytes.TrimRight(text[:n], " ")
		if !plainStart(key) || resolvePlain(key) != plainString || bytes.IndexByte(key, '?') >= 0 {
			return 0, false
		}
	}
	if n+1 >= len(text) || text[n] != ':' || text[n+1] != ' ' || f.seen(firstKey, key) {
		return 0, false
	}
	f.keys = append(f.keys, key)
	f.out = appendJSONString(f.out, key)
	f.out = append(f.out, ':')
	return n + 2, true
}

// flowNode reads one node of a flow collection.
func (f *Converter) flowNode(text []byte, depth int) (int, bool) {
	if len(text) == 0 {
		return 0, false
	}
	switch text[0] {
	case '[', '{':
		return f.flow(text, depth+1)
	case '"', '\'':
		s, n, ok := quoted(text)
		if ok {
			f.out = appendJSONString(f.out, s)
		}
		return n, ok
	}
	n := bytes.IndexAny(text, ":,[]{}#")
	if n < 0 {
		return 0, false
	}
	if c := text[n]; c != ',' && c != ']' && c != '}' {
		return 0, false // ':' and '#' have meanings the fast path leaves to go-yaml
	}
	s := bytes.TrimRight(text[:n], " ")
	if !plainStart(s) || bytes.IndexByte(s, '?') >= 0 {
		// go-yaml reads a "?" in a flow collection as a mapping key
		// indicator in places YAML 1.2 would not; it decides.
		return 0, false
	}
	var ok bool
	f.out, ok = appendPlain(f.out, s)
	return n, ok
}

func skipSpaces(text []byte, i int) int {
	for i < len(text) && text[i] == ' ' {
		i++
	}
	return i
}
