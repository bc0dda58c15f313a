package stack

import "testing"

const conditionsTemplate = `
Parameters:
  Mode: {Type: String, Default: a}
  Name: {Type: String, Default: ""}
Conditions:
  IsA: !Equals [!Ref Mode, a]
  HasName: !Not [!Equals [!Ref Name, ""]]
  Both: !And [!Condition IsA, !Condition HasName]
  Either: !Or [!Condition IsA, !Condition HasName]
  Loop: !Not [!Condition Loop]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          MODE: !If [IsA, first, second]
          BOTH: !If [Both, "yes", "no"]
          EITHER: !If [Either, "yes", "no"]
          NAMED: !If [HasName, !Ref Name, !Ref AWS::NoValue]
`

func TestConditionsDecideEnvironment(t *testing.T) {
	tmpl, err := Parse([]byte(conditionsTemplate))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		params map[string]string
		want   map[string]string
	}{
		{"defaults", nil, map[string]string{"MODE": "first", "BOTH": "no", "EITHER": "yes"}},
		{"named", map[string]string{"Name": "n"}, map[string]string{"MODE": "first", "BOTH": "yes", "EITHER": "yes", "NAMED": "n"}},
		{"b", map[string]string{"Mode": "b"}, map[string]string{"MODE": "second", "BOTH": "no", "EITHER": "no"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fns, err := tmpl.Functions(tt.params)
			if err != nil {
				t.Fatal(err)
			}
			env := fns[0].Environment
			if len(env) != len(tt.want) {
				t.Errorf("environment %v, want %v", env, tt.want)
			}
			for k, v := range tt.want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
		})
	}
	e := tmpl.evaluator(map[string]string{})
	if _, err := e.condition("Loop"); err == nil {
		t.Error("a condition that refers to itself: want an error")
	}
	if _, err := e.condition("Missing"); err == nil {
		t.Error("an unknown condition: want an error")
	}
}
