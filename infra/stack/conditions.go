package stack

import (
	"errors"
	"fmt"
)

// noValue stands for {"Ref": "AWS::NoValue"}: the property, list element or map entry
// it is the value of does not exist.
type noValue struct{}

// evaluator resolves a template's values for one set of parameter values: conditions,
// Fn::If and AWS::NoValue, then scalars through resolve.
type evaluator struct {
	conditions map[string]any
	values     map[string]string
	decided    map[string]bool
	deciding   map[string]bool
}

func (t *Template) evaluator(values map[string]string) *evaluator {
	return &evaluator{
		conditions: mapping(t.root["Conditions"]),
		values:     values,
		decided:    map[string]bool{},
		deciding:   map[string]bool{},
	}
}

// condition evaluates the template condition name.
func (e *evaluator) condition(name string) (bool, error) {
	if v, ok := e.decided[name]; ok {
		return v, nil
	}
	def, ok := e.conditions[name]
	if !ok {
		return false, fmt.Errorf("unknown condition %q", name)
	}
	if e.deciding[name] {
		return false, fmt.Errorf("condition %q refers to itself", name)
	}
	e.deciding[name] = true
	v, err := e.test(def)
	delete(e.deciding, name)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	e.decided[name] = v
	return v, nil
}

// test evaluates a condition function: Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition.
func (e *evaluator) test(v any) (bool, error) {
	m := mapping(v)
	if name, ok := m["Condition"]; ok {
		return e.condition(str(name))
	}
	if args, ok := m["Fn::Equals"]; ok {
		a := list(args)
		if len(a) != 2 {
			return false, errors.New("Fn::Equals takes two values")
		}
		l, err := e.str(a[0])
		if err != nil {
			return false, err
		}
		r, err := e.str(a[1])
		return l == r, err
	}
	if args, ok := m["Fn::Not"]; ok {
		a := list(args)
		if len(a) != 1 {
			return false, errors.New("Fn::Not takes one condition")
		}
		v, err := e.test(a[0])
		return !v, err
	}
	for _, fn := range []string{"Fn::And", "Fn::Or"} {
		args, ok := m[fn]
		if !ok {
			continue
		}
		all := fn == "Fn::And"
		for _, c := range list(args) {
			v, err := e.test(c)
			if err != nil {
				return false, err
			}
			if v != all {
				return v, nil
			}
		}
		return all, nil
	}
	return false, fmt.Errorf("unsupported condition %v", keys(m))
}

// prune returns v with every Fn::If decided and every AWS::NoValue removed from the
// maps and lists that hold it; v itself may come back as noValue{}.
func (e *evaluator) prune(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			if str(x["Ref"]) == "AWS::NoValue" {
				return noValue{}, nil
			}
			if args, ok := x["Fn::If"]; ok {
				a := list(args)
				if len(a) != 3 {
					return nil, errors.New("Fn::If takes a condition and two values")
				}
				c, err := e.condition(str(a[0]))
				if err != nil {
					return nil, err
				}
				if c {
					return e.prune(a[1])
				}
				return e.prune(a[2])
			}
		}
		out := make(map[string]any, len(x))
		for k, item := range x {
			p, err := e.prune(item)
			if err != nil {
				return nil, err
			}
			if _, gone := p.(noValue); !gone {
				out[k] = p
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, item := range x {
			p, err := e.prune(item)
			if err != nil {
				return nil, err
			}
			if _, gone := p.(noValue); !gone {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return v, nil
}

// str renders v as a string, conditions decided.
func (e *evaluator) str(v any) (string, error) {
	p, err := e.prune(v)
	if err != nil {
		return "", err
	}
	if _, gone := p.(noValue); gone {
		return "", errors.New("AWS::NoValue where a value is required")
	}
	return resolve(p, e.values)
}

// strs renders v, one value or a list of them, as strings.
func (e *evaluator) strs(v any) ([]string, error) {
	p, err := e.prune(v)
	if err != nil {
		return nil, err
	}
	items, ok := p.([]any)
	if !ok {
		if _, gone := p.(noValue); gone || p == nil {
			return nil, nil
		}
		items = []any{p}
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, err := resolve(item, e.values)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
