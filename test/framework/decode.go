package framework

import (
	"fmt"

	sigsjson "sigs.k8s.io/json"
)

// unmarshalStrict decodes JSON and refuses unknown fields, so a typo in
// webhooks.yaml fails the tests instead of being silently dropped.
func unmarshalStrict(data []byte, into any) error {
	strict, err := sigsjson.UnmarshalStrict(data, into)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("webhooks.yaml: %v", strict)
	}
	return nil
}
