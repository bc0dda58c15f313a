package stack

import (
	"fmt"
	"sort"
	"strings"
)

// Function is one AWS::Serverless::Function of the template.
type Function struct {
	// LogicalID is the function's key in Resources, e.g. KeysFunction.
	LogicalID string
	// MemorySize is the function's memory in MB (Globals applied).
	MemorySize int
	// Timeout is the function's timeout in seconds (Globals applied).
	Timeout int
	// Environment holds the function's variables, Globals merged in, intrinsics resolved.
	Environment map[string]string
	// Routes are the function's HttpApi events.
	Routes []Route
}

// Route is one HttpApi event: a method and path served by a function.
type Route struct {
	// Event is the event's key under the function's Events.
	Event string
	// Function is the logical id of the function serving the route.
	Function string
	// Method is the HTTP method, upper case, or ANY.
	Method string
	// Path is the route's path, with {name} and {name+} parameters.
	Path string
	// Authorizer names the HTTP API authorizer protecting the route, "" if none.
	Authorizer string
}

// Key returns the API Gateway route key, e.g. "POST /v1/keys/{id}/rotate".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Authorizer is a Lambda authorizer declared under an HttpApi's Auth.Authorizers.
type Authorizer struct {
	// Name is the authorizer's key under Auth.Authorizers.
	Name string
	// Function is the logical id of the authorizer's function (from FunctionArn).
	Function string
	// IdentitySource lists the required sources, e.g. "$request.header.Authorization".
	IdentitySource []string
	// SimpleResponses reports EnableSimpleResponses.
	SimpleResponses bool
	// PayloadFormatVersion is "2.0" or "1.0".
	PayloadFormatVersion string
}

// LocalPseudoParameters are the values of AWS::Region, AWS::StackName and the other
// pseudo parameters in a local stack.
var LocalPseudoParameters = map[string]string{
	"AWS::Region": "us-east-1", "AWS::AccountId": "000000000000", "AWS::Partition": "aws",
	"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "keyward-local",
}

// Functions returns every AWS::Serverless::Function, sorted by logical id, with its
// environment resolved through refs: each resource's Ref (and "<id>.Arn"), and any
// parameter whose default is overridden. Conditions are decided on those values; a
// variable whose value is AWS::NoValue is left out.
func (t *Template) Functions(refs map[string]string) ([]Function, error) {
	values := t.ParameterDefaults()
	for k, v := range LocalPseudoParameters {
		values[k] = v
	}
	for k, v := range refs {
		values[k] = v
	}
	eval := t.evaluator(values)
	globals := mapping(mapping(t.root["Globals"])["Function"])
	defaultAuth := t.defaultAuthorizers()

	var out []Function
	for _, r := range t.Resources() {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		f := Function{
			LogicalID:   r.LogicalID,
			MemorySize:  intOr(r.Properties["MemorySize"], intOr(globals["MemorySize"], 128)),
			Timeout:     intOr(r.Properties["Timeout"], intOr(globals["Timeout"], 3)),
			Environment: map[string]string{},
		}
		for _, src := range []map[string]any{globals, r.Properties} {
			if err := addEnvironment(f.Environment, mapping(mapping(src["Environment"])["Variables"]), eval, values); err != nil {
				return nil, fmt.Errorf("%s: %w", r.LogicalID, err)
			}
		}
		f.Routes = httpAPIRoutes(r, defaultAuth)
		out = append(out, f)
	}
	return out, nil
}

// addEnvironment resolves vars into env: a variable whose value is AWS::NoValue
// removes the one set before (by the globals).
func addEnvironment(env map[string]string, vars map[string]any, eval *evaluator, values map[string]string) error {
	for name, v := range vars {
		p, err := eval.prune(v)
		if err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
		if _, gone := p.(noValue); gone {
			delete(env, name)
			continue
		}
		s, err := resolve(p, values)
		if err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
		env[name] = s
	}
	return nil
}

// httpAPIRoutes returns the HttpApi events of function r, sorted by event name, with
// their authorizer: the event's own, else its API's default (defaultAuth by API id);
// NONE and AWS_IAM are none.
func httpAPIRoutes(r Resource, defaultAuth map[string]string) []Route {
	var routes []Route
	for name, ev := range mapping(r.Properties["Events"]) {
		e := mapping(ev)
		if str(e["Type"]) != "HttpApi" {
			continue
		}
		p := mapping(e["Properties"])
		route := Route{
			Event:    name,
			Function: r.LogicalID,
			Method:   strings.ToUpper(str(p["Method"])),
			Path:     str(p["Path"]),
		}
		if route.Method == "" || route.Path == "" {
			// An HttpApi event without Method and Path is the $default route.
			route.Method, route.Path = "ANY", "/{proxy+}"
		}
		if auth, ok := mapping(p["Auth"])["Authorizer"]; ok {
			route.Authorizer = str(auth)
		} else {
			route.Authorizer = defaultAuth[refTarget(p["ApiId"])]
		}
		if route.Authorizer == "NONE" || route.Authorizer == "AWS_IAM" {
			route.Authorizer = ""
		}
		routes = append(routes, route)
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Event < routes[j].Event })
	return routes
}

// Routes returns every HttpApi route of every function, sorted by route key.
func (t *Template) Routes() ([]Route, error) {
	fns, err := t.Functions(t.LocalRefs())
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, f := range fns {
		out = append(out, f.Routes...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out, nil
}

// LocalRefs returns placeholder values for every resource's Ref and Arn, so that any
// environment variable resolves; callers override the ones that matter (the table,
// the secrets).
func (t *Template) LocalRefs() map[string]string {
	refs := map[string]string{}
	for _, r := range t.Resources() {
		refs[r.LogicalID] = "keyward-local-" + r.LogicalID
		refs[r.LogicalID+".Arn"] = "arn:aws:local:us-east-1:000000000000:" + r.LogicalID
	}
	return refs
}

// Authorizers returns the Lambda authorizers declared on every HttpApi, by name.
func (t *Template) Authorizers() map[string]Authorizer {
	out := map[string]Authorizer{}
	for _, r := range t.Resources() {
		if r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		for name, v := range mapping(mapping(r.Properties["Auth"])["Authorizers"]) {
			m := mapping(v)
			fn := getAttTarget(m["FunctionArn"])
			if fn == "" {
				continue // a JWT authorizer: API Gateway checks it, no function runs
			}
			a := Authorizer{
				Name:                 name,
				Function:             fn,
				PayloadFormatVersion: str(m["AuthorizerPayloadFormatVersion"]),
			}
			a.SimpleResponses, _ = m["EnableSimpleResponses"].(bool)
			if a.PayloadFormatVersion == "" {
				a.PayloadFormatVersion = "2.0"
			}
			identity, declared := m["Identity"]
			id := mapping(identity)
			for _, h := range list(id["Headers"]) {
				a.IdentitySource = append(a.IdentitySource, "$request.header."+str(h))
			}
			for _, q := range list(id["QueryStrings"]) {
				a.IdentitySource = append(a.IdentitySource, "$request.querystring."+str(q))
			}
			if !declared {
				// SAM's default identity source for a Lambda authorizer.
				a.IdentitySource = []string{"$request.header.Authorization"}
			}
			out[name] = a
		}
	}
	return out
}

// defaultAuthorizers maps each HttpApi's logical id to its Auth.DefaultAuthorizer.
func (t *Template) defaultAuthorizers() map[string]string {
	out := map[string]string{}
	for _, r := range t.Resources() {
		if r.Type != "AWS::Serverless::HttpApi" {
			continue
		}
		if d := str(mapping(r.Properties["Auth"])["DefaultAuthorizer"]); d != "" {
			out[r.LogicalID] = d
			if len(t.ResourcesOfType("AWS::Serverless::HttpApi")) == 1 {
				out[""] = d // events without ApiId attach to the only API
			}
		}
	}
	return out
}

// resolve renders an environment value: a scalar, Ref, Fn::GetAtt, Fn::Sub or Fn::Join.
func resolve(v any, values map[string]string) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return str(v), nil
	}
	if ref, ok := m["Ref"]; ok {
		if s, ok := values[str(ref)]; ok {
			return s, nil
		}
		return "", fmt.Errorf("cannot resolve !Ref %s", str(ref))
	}
	if ga, ok := m["Fn::GetAtt"]; ok {
		parts := list(ga)
		if len(parts) == 2 {
			key := str(parts[0]) + "." + str(parts[1])
			if s, ok := values[key]; ok {
				return s, nil
			}
			return "", fmt.Errorf("cannot resolve !GetAtt %s", key)
		}
	}
	if sub, ok := m["Fn::Sub"]; ok {
		tmpl, vars := str(sub), map[string]any{}
		if s := list(sub); len(s) == 2 {
			tmpl, vars = str(s[0]), mapping(s[1])
		}
		return substitute(tmpl, vars, values)
	}
	if join, ok := m["Fn::Join"]; ok {
		if s := list(join); len(s) == 2 {
			var parts []string
			for _, p := range list(s[1]) {
				r, err := resolve(p, values)
				if err != nil {
					return "", err
				}
				parts = append(parts, r)
			}
			return strings.Join(parts, str(s[0])), nil
		}
	}
	return "", fmt.Errorf("unsupported intrinsic %v", keys(m))
}

// substitute expands ${Name} and ${Id.Attr} in an Fn::Sub template.
func substitute(tmpl string, vars map[string]any, values map[string]string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", tmpl)
		}
		b.WriteString(tmpl[:i])
		name := tmpl[i+2 : i+j]
		switch {
		case strings.HasPrefix(name, "!"):
			b.WriteString("${" + name[1:] + "}") // ${!Literal}
		case vars[name] != nil:
			s, err := resolve(vars[name], values)
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		default:
			s, ok := values[name]
			if !ok {
				return "", fmt.Errorf("cannot resolve ${%s}", name)
			}
			b.WriteString(s)
		}
		tmpl = tmpl[i+j+1:]
	}
}

// refTarget returns X for {"Ref": X}, else "".
func refTarget(v any) string { return str(mapping(v)["Ref"]) }

// getAttTarget returns X for {"Fn::GetAtt": [X, "Arn"]}, else "".
func getAttTarget(v any) string {
	if parts := list(mapping(v)["Fn::GetAtt"]); len(parts) == 2 {
		return str(parts[0])
	}
	return ""
}

func intOr(v any, def int) int {
	if i, ok := v.(int); ok {
		return i
	}
	return def
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
