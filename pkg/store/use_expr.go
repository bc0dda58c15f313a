package store

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// operands hands out the values and per-use names (slots) of a use's update as
// placeholders, and records the real ones in order. The text of a use's update and
// condition depends only on its plan's shape, never on its values, and building it
// (expression.Builder.Build) costs far more than the rest of a use's CPU; so it is
// built once per shape and process (cachedExpression), and each use fills in its own
// values and names.
type operands struct {
	vals  []any
	names []string
}

const (
	valuePlaceholder = "keyward:v:"
	namePlaceholder  = "keyward:n:"
)

// val is v as an operand of the update.
func (o *operands) val(v any) expression.ValueBuilder {
	o.vals = append(o.vals, v)
	return expression.Value(valuePlaceholder + strconv.Itoa(len(o.vals)-1))
}

// name is attribute name n (one that differs from use to use: a slot), not split
// on dots.
func (o *operands) name(n string) expression.NameBuilder {
	o.names = append(o.names, n)
	return expression.NameNoDotSplit(namePlaceholder + strconv.Itoa(len(o.names)-1))
}

// useExpr is one use's update and condition, ready for UpdateItem.
type useExpr struct {
	update, condition string
	names             map[string]string
	values            map[string]types.AttributeValue
}

// exprTemplate is the built expression of one shape: its text, its static names and
// values, and where each operand's value and name goes.
type exprTemplate struct {
	update, condition string
	names             map[string]string
	static            map[string]types.AttributeValue
	valueAt, nameAt   []string // operand index → placeholder (":3", "#2")
}

// templates are the built expressions by shape; there are a few dozen shapes at most
// (which parts a plan has, and how many stale marks and hashes).
var templates sync.Map

// cachedExpression is u and c, whose operands o recorded, with the text built once per
// shape.
func cachedExpression(shape string, o *operands, u expression.UpdateBuilder, c expression.ConditionBuilder) (useExpr, error) {
	t, ok := templates.Load(shape)
	if !ok {
		built, err := newTemplate(o, u, c)
		if err != nil {
			return useExpr{}, err
		}
		t, _ = templates.LoadOrStore(shape, built)
	}
	return t.(*exprTemplate).fill(o)
}

func newTemplate(o *operands, u expression.UpdateBuilder, c expression.ConditionBuilder) (*exprTemplate, error) {
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(c).Build()
	if err != nil {
		return nil, err
	}
	t := &exprTemplate{
		update: *expr.Update(), condition: *expr.Condition(), names: map[string]string{}, static: map[string]types.AttributeValue{},
		valueAt: make([]string, len(o.vals)), nameAt: make([]string, len(o.names)),
	}
	for alias, n := range expr.Names() {
		if i, ok := placeholderIndex(n, namePlaceholder); ok && i < len(t.nameAt) {
			t.nameAt[i] = alias
			continue
		}
		t.names[alias] = n
	}
	for alias, v := range expr.Values() {
		s, ok := v.(*types.AttributeValueMemberS)
		if i, isOperand := placeholderIndex(str(s, ok), valuePlaceholder); isOperand && i < len(t.valueAt) {
			t.valueAt[i] = alias
			continue
		}
		t.static[alias] = v // one the builder adds itself (attribute_type's type)
	}
	if slices.Contains(t.valueAt, "") || slices.Contains(t.nameAt, "") {
		return nil, fmt.Errorf("use expression: an operand has no placeholder")
	}
	return t, nil
}

func str(s *types.AttributeValueMemberS, ok bool) string {
	if !ok {
		return ""
	}
	return s.Value
}

func placeholderIndex(s, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil
}

// fill is the template with o's values and names, which must be of the same shape.
func (t *exprTemplate) fill(o *operands) (useExpr, error) {
	if len(o.vals) != len(t.valueAt) || len(o.names) != len(t.nameAt) {
		return useExpr{}, fmt.Errorf("use expression: %d values and %d names for a shape of %d and %d",
			len(o.vals), len(o.names), len(t.valueAt), len(t.nameAt))
	}
	e := useExpr{update: t.update, condition: t.condition, names: maps.Clone(t.names),
		values: maps.Clone(t.static)}
	for i, n := range o.names {
		e.names[t.nameAt[i]] = n
	}
	for i, v := range o.vals {
		av, err := attributevalue.Marshal(v)
		if err != nil {
			return useExpr{}, fmt.Errorf("use expression: %w", err)
		}
		e.values[t.valueAt[i]] = av
	}
	return e, nil
}
