package keyward_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fzipp/gocyclo"
)

// Function size limits for code outside tests: a function longer than this, or more
// complex (cyclomatic, as gocyclo counts it), is split.
const (
	maxFuncLines  = 60
	maxComplexity = 15
)

// TestFunctionSize holds every function and function literal outside tests to the
// limits, so a change that grows one past them fails here rather than in review.
func TestFunctionSize(t *testing.T) {
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checkSizes(t, fset, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkSizes(t *testing.T, fset *token.FileSet, f *ast.File) {
	t.Helper()
	ast.Inspect(f, func(n ast.Node) bool {
		var body *ast.BlockStmt
		name := "func literal"
		switch fn := n.(type) {
		case *ast.FuncDecl:
			body, name = fn.Body, fn.Name.Name
		case *ast.FuncLit:
			body = fn.Body
		}
		if body == nil {
			return true
		}
		at := fset.Position(n.Pos())
		if lines := fset.Position(body.Rbrace).Line - at.Line + 1; lines > maxFuncLines {
			t.Errorf("%s: %s is %d lines (limit %d)", at, name, lines, maxFuncLines)
		}
		if _, decl := n.(*ast.FuncDecl); decl {
			if c := gocyclo.Complexity(n); c > maxComplexity {
				t.Errorf("%s: %s has cyclomatic complexity %d (limit %d)", at, name, c, maxComplexity)
			}
		}
		return true
	})
}
