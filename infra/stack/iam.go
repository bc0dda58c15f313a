package stack

import (
	"fmt"
	"sort"
	"strings"
)

// Grant is one permission of a role: an action on a resource, under a condition.
type Grant struct {
	// Effect is Allow or Deny.
	Effect string
	// Action is the IAM action as written, e.g. dynamodb:GetItem.
	Action string
	// Resource is the resource with its intrinsics rendered symbolically: !GetAtt T.Arn
	// is ${T.Arn}, !Ref S is ${S}, pseudo parameters stay ${AWS::Region}.
	Resource string
	// Condition is the statement's condition in a canonical form (operators, keys and
	// values sorted), "" for none.
	Condition string
}

// String renders g on one line, e.g.
// "dynamodb:GetItem ${T.Arn} if ForAllValues:StringLike dynamodb:LeadingKeys=[CONFIG KEY#*]".
func (g Grant) String() string {
	s := g.Action + " " + g.Resource
	if g.Effect != "Allow" {
		s = strings.ToLower(g.Effect) + " " + s
	}
	if g.Condition != "" {
		s += " if " + g.Condition
	}
	return s
}

// Role is an AWS::IAM::Role of a plain CloudFormation template.
type Role struct {
	// Grants are the statements of its inline policies, one action and resource each.
	Grants []Grant
	// ManagedPolicies are its ManagedPolicyArns, rendered like Grant.Resource.
	ManagedPolicies []string
	// Principals are the services (or other principals) that may assume it.
	Principals []string
}

// FunctionGrants returns, by logical id, what each AWS::Serverless::Function's Policies
// grant it, with conditions decided on params (parameter defaults for the rest), each
// function's grants sorted. Only inline statements are read: a managed policy or a SAM
// policy template (whose statements the template does not show) is an error, and so
// is a function that brings its own Role.
func (t *Template) FunctionGrants(params map[string]string) (map[string][]Grant, error) {
	eval := t.evaluator(t.symbolicValues(params))
	globals := mapping(mapping(t.root["Globals"])["Function"])
	for _, p := range []string{"Policies", "Role"} {
		if _, ok := globals[p]; ok {
			return nil, fmt.Errorf("Globals.Function.%s: give each function its own Policies", p)
		}
	}
	out := map[string][]Grant{}
	for _, r := range t.Resources() {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		if _, ok := r.Properties["Role"]; ok {
			return nil, fmt.Errorf("%s: a Role of its own hides its grants; use Policies", r.LogicalID)
		}
		policies, err := eval.prune(r.Properties["Policies"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
		}
		items, ok := policies.([]any)
		if !ok {
			if _, gone := policies.(noValue); !gone && policies != nil {
				items = []any{policies}
			}
		}
		grants := []Grant{}
		for _, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: managed policy %v: write its statements out instead", r.LogicalID, item)
			}
			if _, ok := m["Statement"]; !ok {
				return nil, fmt.Errorf("%s: policy template %v: write its statements out instead", r.LogicalID, keys(m))
			}
			g, err := eval.statements(m["Statement"])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
			}
			grants = append(grants, g...)
		}
		out[r.LogicalID] = sortGrants(grants)
	}
	return out, nil
}

// Roles returns every AWS::IAM::Role of a plain CloudFormation template (such as the
// SAM translation of template.yaml), by logical id, conditions decided on params.
func (t *Template) Roles(params map[string]string) (map[string]Role, error) {
	eval := t.evaluator(t.symbolicValues(params))
	out := map[string]Role{}
	for _, r := range t.Resources() {
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		var role Role
		policies, err := eval.prune(r.Properties["Policies"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
		}
		for _, p := range list(policies) {
			g, err := eval.statements(mapping(mapping(p)["PolicyDocument"])["Statement"])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
			}
			role.Grants = append(role.Grants, g...)
		}
		role.Grants = sortGrants(role.Grants)
		if role.ManagedPolicies, err = eval.strs(r.Properties["ManagedPolicyArns"]); err != nil {
			return nil, fmt.Errorf("%s: managed policies: %w", r.LogicalID, err)
		}
		sort.Strings(role.ManagedPolicies)
		trust, err := eval.prune(mapping(r.Properties["AssumeRolePolicyDocument"])["Statement"])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
		}
		for _, s := range list(trust) {
			for _, kind := range []string{"Service", "AWS", "Federated"} {
				ps, err := eval.strs(mapping(mapping(s)["Principal"])[kind])
				if err != nil {
					return nil, fmt.Errorf("%s: trust policy: %w", r.LogicalID, err)
				}
				role.Principals = append(role.Principals, ps...)
			}
		}
		sort.Strings(role.Principals)
		out[r.LogicalID] = role
	}
	return out, nil
}

// symbolicValues renders every resource as ${Id} and ${Id.Arn}, and every pseudo
// parameter as ${AWS::...}; parameters take params, else their defaults.
func (t *Template) symbolicValues(params map[string]string) map[string]string {
	values := map[string]string{}
	for _, r := range t.Resources() {
		values[r.LogicalID] = "${" + r.LogicalID + "}"
		values[r.LogicalID+".Arn"] = "${" + r.LogicalID + ".Arn}"
	}
	for k := range LocalPseudoParameters {
		values[k] = "${" + k + "}"
	}
	for k, v := range t.ParameterDefaults() {
		values[k] = v
	}
	for k, v := range params {
		values[k] = v
	}
	return values
}

// statements expands a policy's Statement (one or a list) into grants.
func (e *evaluator) statements(v any) ([]Grant, error) {
	p, err := e.prune(v)
	if err != nil {
		return nil, err
	}
	items, ok := p.([]any)
	if !ok {
		items = []any{p}
	}
	var out []Grant
	for _, item := range items {
		s := mapping(item)
		for _, not := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := s[not]; ok {
				return nil, fmt.Errorf("statement with %s: name what it grants", not)
			}
		}
		effect := str(s["Effect"])
		if effect != "Allow" && effect != "Deny" {
			return nil, fmt.Errorf("statement effect %q", effect)
		}
		actions, err := e.strs(s["Action"])
		if err != nil {
			return nil, fmt.Errorf("actions: %w", err)
		}
		resources, err := e.strs(s["Resource"])
		if err != nil {
			return nil, fmt.Errorf("resources: %w", err)
		}
		if len(actions) == 0 || len(resources) == 0 {
			return nil, fmt.Errorf("statement without Action or Resource: %v", keys(s))
		}
		cond, err := e.renderCondition(s["Condition"])
		if err != nil {
			return nil, err
		}
		for _, a := range actions {
			for _, r := range resources {
				out = append(out, Grant{Effect: effect, Action: a, Resource: r, Condition: cond})
			}
		}
	}
	return out, nil
}

// renderCondition renders a statement's Condition canonically: "op key=[v ...]" clauses
// joined by " and ", operators, keys and values sorted.
func (e *evaluator) renderCondition(v any) (string, error) {
	var clauses []string
	for op, block := range mapping(v) {
		for key, values := range mapping(block) {
			vs, err := e.strs(values)
			if err != nil {
				return "", fmt.Errorf("condition %s %s: %w", op, key, err)
			}
			sort.Strings(vs)
			clauses = append(clauses, op+" "+key+"=["+strings.Join(vs, " ")+"]")
		}
	}
	sort.Strings(clauses)
	return strings.Join(clauses, " and "), nil
}

func sortGrants(g []Grant) []Grant {
	sort.Slice(g, func(i, j int) bool { return g[i].String() < g[j].String() })
	return g
}
