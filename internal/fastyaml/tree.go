package fastyaml

import (
	"strconv"

	yamlv3 "sigs.k8s.io/yaml/goyaml.v3"
)

// TreeLine returns the 1-based line of the node at the field path toks in
// a go-yaml v3 node tree, or of the deepest node of it that exists: the
// line of a key in a mapping, of an item in a sequence. It places fields
// in the documents Locate declines, and is the reference Locate is tested
// against.
func TreeLine(root *yamlv3.Node, toks []string) int {
	node, line := root, root.Line
	for _, tok := range toks {
		for node.Kind == yamlv3.AliasNode && node.Alias != nil {
			node = node.Alias
		}
		next, at := child(node, tok)
		if next == nil {
			break
		}
		node, line = next, at
	}
	return line
}

// child returns the node under tok and the line that names it.
func child(node *yamlv3.Node, tok string) (*yamlv3.Node, int) {
	switch node.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == tok {
				return node.Content[i+1], node.Content[i].Line
			}
		}
	case yamlv3.SequenceNode:
		if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(node.Content) {
			return node.Content[i], node.Content[i].Line
		}
	}
	return nil, 0
}
