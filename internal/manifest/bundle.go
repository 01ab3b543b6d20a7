package manifest

import "context"

// Bundle is everything read from the input, kept in memory. The check
// streams instead; Bundle serves tests and small inputs.
type Bundle struct {
	// Documents are the objects read, in input order, without Raw.
	Documents []Document
	// Errors are input errors.
	Errors []Problem
	// Notices are files skipped on purpose.
	Notices []Problem
}

// Read walks paths and collects everything into a Bundle.
func (r *Reader) Read(ctx context.Context, paths []string) *Bundle {
	b := &Bundle{}
	r.Walk(ctx, paths, &Visitor{
		Document: func(d *Document) {
			doc := *d
			doc.Raw = nil
			b.Documents = append(b.Documents, doc)
		},
		Error:  func(p Problem) { b.Errors = append(b.Errors, p) },
		Notice: func(p Problem) { b.Notices = append(b.Notices, p) },
	})
	return b
}
