package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	// Path is the file the template was read from.
	Path string
	root map[string]any
}

// Load parses the SAM template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse parses a SAM template from YAML (or JSON) bytes.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("empty template")
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("template is not a mapping")
	}
	return &Template{root: root}, nil
}

// FindTemplate walks up from dir to the directory holding go.mod and returns the
// path of the template.yaml beside it.
func FindTemplate(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "template.yaml")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no template.yaml beside go.mod: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// convert turns a YAML node into plain Go values (map[string]any, []any, string,
// bool, int, float64, nil), rewriting CloudFormation short tags to their long form.
func convert(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return convert(n.Alias)
	}
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			val, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := convert(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		v = scalar(n)
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	if !strings.HasPrefix(n.Tag, "!") || strings.HasPrefix(n.Tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	if name == "Ref" || name == "Condition" {
		return map[string]any{name: v}, nil
	}
	if name == "GetAtt" {
		// !GetAtt Resource.Attribute is the short form of ["Resource", "Attribute"].
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!!int":
		if i, err := strconv.Atoi(n.Value); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return f
		}
	case "!!bool":
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
	case "!!null":
		return nil
	}
	return n.Value
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	// LogicalID is the resource's key in Resources.
	LogicalID string
	// Type is the CloudFormation type, e.g. AWS::DynamoDB::Table.
	Type string
	// Properties holds the resource's Properties, short tags in long form.
	Properties map[string]any
}

// Resources returns the template's resources, sorted by logical id.
func (t *Template) Resources() []Resource {
	res := mapping(t.root["Resources"])
	out := make([]Resource, 0, len(res))
	for id, v := range res {
		m := mapping(v)
		out = append(out, Resource{LogicalID: id, Type: str(m["Type"]), Properties: mapping(m["Properties"])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalID < out[j].LogicalID })
	return out
}

// Resource returns the resource with the given logical id.
func (t *Template) Resource(logicalID string) (Resource, error) {
	m, ok := mapping(t.root["Resources"])[logicalID].(map[string]any)
	if !ok {
		return Resource{}, fmt.Errorf("template has no resource %q", logicalID)
	}
	return Resource{LogicalID: logicalID, Type: str(m["Type"]), Properties: mapping(m["Properties"])}, nil
}

// ResourcesOfType returns the logical ids of the resources of type typ, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for _, r := range t.Resources() {
		if r.Type == typ {
			ids = append(ids, r.LogicalID)
		}
	}
	return ids
}

// ParameterDefaults returns each template parameter's Default as a string.
func (t *Template) ParameterDefaults() map[string]string {
	out := map[string]string{}
	for name, v := range mapping(t.root["Parameters"]) {
		if d, ok := mapping(v)["Default"]; ok {
			out[name] = str(d)
		}
	}
	return out
}

// mapping returns v as a mapping, or an empty one.
func mapping(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

// list returns v as a sequence, or nil.
func list(v any) []any {
	s, _ := v.([]any)
	return s
}

// str renders a scalar as a string; non-scalars render as "".
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}
