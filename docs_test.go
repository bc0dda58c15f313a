package keyward

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/pkg/openapi"
)

// docsDir is the user-facing API reference. A route is documented there when a heading
// names it in a code span, e.g. "### `POST /v1/keys/{id}/rotate`"; routes mentioned in
// prose (examples, other teams' routes) do not count.
const docsDir = "docs"

var (
	codeSpan  = regexp.MustCompile("`([^`]+)`")
	routeSpan = regexp.MustCompile(`^(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) (/\S*)$`)
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// docFiles returns the Markdown files of docs/, sorted.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no Markdown files in %s/", docsDir)
	}
	sort.Strings(files)
	return files
}

// headings calls f with every Markdown heading of file (outside fenced code blocks),
// its text without the leading #s, and its line number.
func headings(t *testing.T, file string, f func(text string, line int)) {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	fenced := false
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		text := strings.TrimLeft(line, "#")
		if strings.HasPrefix(text, " ") {
			f(strings.TrimSpace(text), n)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// docRoutes returns every "METHOD /path" that a heading of docs/ names, with where.
func docRoutes(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, file := range docFiles(t) {
		headings(t, file, func(text string, line int) {
			for _, m := range codeSpan.FindAllStringSubmatch(text, -1) {
				if !routeSpan.MatchString(m[1]) {
					continue
				}
				where := file + ":" + strconv.Itoa(line)
				if prev, ok := out[m[1]]; ok {
					t.Errorf("%s: %s is documented twice (also at %s)", where, m[1], prev)
				}
				out[m[1]] = where
			}
		})
	}
	return out
}

// TestDocsMatchOpenAPI checks that docs/ documents exactly the routes of openapi.yaml:
// every route has its section, and no section describes a route that is not served.
func TestDocsMatchOpenAPI(t *testing.T) {
	documented := docRoutes(t)
	described, err := openapi.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range described {
		if _, ok := documented[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k, where := range documented {
		if !described[k] {
			extra = append(extra, where+": "+k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, k := range missing {
		t.Errorf("openapi.yaml route %s has no heading in %s/", k, docsDir)
	}
	for _, k := range extra {
		t.Errorf("%s is documented in %s/ but not in openapi.yaml", k, docsDir)
	}
}

// TestDocsLinksStayInside checks every relative link of docs/ and README.md: it names a
// file of this repository (never one beside it), and its #fragment, if any, names a
// heading of that file. A clone has nothing outside itself to link to.
func TestDocsLinksStayInside(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	files := append(docFiles(t), "README.md")
	anchors := map[string]map[string]bool{}
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		a := map[string]bool{}
		headings(t, file, func(text string, _ int) { a[slug(text)] = true })
		anchors[file] = a
		return a
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			u, err := url.Parse(target)
			if err != nil {
				t.Errorf("%s: link %q does not parse: %v", file, target, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" {
				continue // a web page
			}
			dest := file
			if u.Path != "" {
				if filepath.IsAbs(u.Path) {
					t.Errorf("%s: link %q is an absolute path", file, target)
					continue
				}
				dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(u.Path))
				abs, _ := filepath.Abs(dest)
				if rel, err := filepath.Rel(root, abs); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
					t.Errorf("%s: link %q points outside the repository", file, target)
					continue
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: link %q names no file of the repository", file, target)
					continue
				}
			}
			if u.Fragment != "" && strings.HasSuffix(dest, ".md") && !anchorsOf(dest)[u.Fragment] {
				t.Errorf("%s: link %q: %s has no heading #%s", file, target, dest, u.Fragment)
			}
		}
	}
}

// slug is the anchor GitHub gives a heading: lower case, punctuation dropped, spaces
// turned into hyphens.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		case r > 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Failed attempts":                            "failed-attempts",
		"`POST /v1/keys/{id}/rotate`":                "post-v1keysidrotate",
		"Permissions: delegation without escalation": "permissions-delegation-without-escalation",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
