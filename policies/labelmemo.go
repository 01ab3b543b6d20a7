package policies

import (
	"sync"

	"k8s.io/apimachinery/pkg/api/validate/content"
)

// maxLabelMemo bounds labelMemo: a full memo starts again empty.
const maxLabelMemo = 8192

// labelMemo remembers the label keys and values that apimachinery's
// content.IsLabelKey and IsLabelValue accept. Both are pure functions of the
// text, run on every selector of every object, and their regular
// expressions were a fifth of an evaluation, while objects repeat the same
// few keys and values. Only valid texts are remembered: an invalid one is
// validated again by the caller, for its exact messages.
type labelMemo struct {
	mu    sync.RWMutex
	valid map[labelText]struct{}
}

// labelText is a label key, or a value when value is set.
type labelText struct {
	text  string
	value bool
}

// newLabelMemo returns an empty memo. Each Engine has its own.
func newLabelMemo() *labelMemo { return &labelMemo{valid: map[labelText]struct{}{}} }

// key reports whether k is a valid label key.
func (m *labelMemo) key(k string) bool {
	return m.check(labelText{text: k}, content.IsLabelKey)
}

// value reports whether v is a valid label value.
func (m *labelMemo) value(v string) bool {
	return m.check(labelText{text: v, value: true}, content.IsLabelValue)
}

// pairs reports whether every key and value of labels is valid.
func (m *labelMemo) pairs(labels map[string]string) bool {
	for k, v := range labels {
		if !m.key(k) || !m.value(v) {
			return false
		}
	}
	return true
}

func (m *labelMemo) check(t labelText, validate func(string) []string) bool {
	if m == nil { // no engine's memo: validate every time
		return len(validate(t.text)) == 0
	}
	m.mu.RLock()
	_, ok := m.valid[t]
	m.mu.RUnlock()
	if ok {
		return true
	}
	if len(validate(t.text)) > 0 {
		return false
	}
	m.mu.Lock()
	if len(m.valid) >= maxLabelMemo {
		clear(m.valid)
	}
	m.valid[t] = struct{}{}
	m.mu.Unlock()
	return true
}
