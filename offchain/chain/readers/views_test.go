package readers

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// contractsDir holds the Tolk sources, from this package's directory.
const contractsDir = "../../../contracts"

// views maps each get-method that returns a struct to the Go view read
// from it.
var views = []struct {
	file, getter string
	view         any
}{
	{"root.tolk", "params", rootParams{}},
	{"root.tolk", "model", modelView{}},
	{"root.tolk", "child_code_hashes", childCodeHashesView{}},
	{"root.tolk", "pending_change", PendingChangeView{}},
	{"worker.tolk", "worker_data", WorkerDataView{}},
	{"worker.tolk", "worker_state", WorkerStateView{}},
	{"worker.tolk", "registration", RegistrationView{}},
	{"worker.tolk", "model_price", modelPriceView{}},
	{"job.tolk", "job_data", JobDataView{}},
	{"job.tolk", "job_terms", JobTermsView{}},
}

var (
	getFunRe    = regexp.MustCompile(`(?m)^get fun (\w+)\([^)]*\):\s*([\w?]+)\s*\{`)
	fieldLineRe = regexp.MustCompile(`^(\w+)\s*:\s*([\w?<>, ]+?)\s*,?$`)
)

// tolkSources reads the contracts and their shared includes.
func tolkSources(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pattern := range []string{"*.tolk", "common/*.tolk"} {
		files, err := filepath.Glob(filepath.Join(contractsDir, pattern))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Tolk sources at %s (%v)", pattern, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(contractsDir, f)
			out[filepath.ToSlash(rel)] = string(b)
		}
	}
	return out
}

type tolkField struct{ name, typ string }

// tolkStruct finds `struct name { … }` (without an opcode) in the sources
// and lists its fields in order.
func tolkStruct(t *testing.T, sources map[string]string, name string) []tolkField {
	t.Helper()
	re := regexp.MustCompile(`(?ms)^struct ` + name + `\s*\{(.*?)^\}`)
	var found []string
	for _, src := range sources {
		if m := re.FindStringSubmatch(src); m != nil {
			found = append(found, m[1])
		}
	}
	if len(found) != 1 {
		t.Fatalf("struct %s is declared %d times in the contracts, want once", name, len(found))
	}
	var fields []tolkField
	for line := range strings.SplitSeq(found[0], "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		m := fieldLineRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("struct %s: cannot read the field line %q", name, line)
		}
		fields = append(fields, tolkField{m[1], m[2]})
	}
	return fields
}

// stackTagsFor are the Go stack tags that read a Tolk type.
func stackTagsFor(tolkType string) []string {
	switch tolkType {
	case "coins", "bool", "cell?":
		return []string{tolkType}
	case "address?":
		return []string{"addr?"}
	case "address":
		return []string{"addr"}
	case "cell":
		return []string{"cell", "snake"}
	case "uint256":
		return []string{"u256"}
	}
	if n, ok := strings.CutPrefix(tolkType, "uint"); ok {
		if bits, err := strconv.Atoi(n); err == nil && bits >= 1 && bits <= 64 {
			return []string{"uint," + n}
		}
	}
	return nil
}

// TestViewsMatchTolk proves each Go view mirrors the Tolk struct its
// get-method returns: the same fields, named alike (case-insensitively),
// in the same order, each with a stack tag that reads its Tolk type. It
// also requires a view for every get-method that returns a struct.
func TestViewsMatchTolk(t *testing.T) {
	sources := tolkSources(t)
	covered := map[string]bool{}
	for _, v := range views {
		covered[v.file+" "+v.getter] = true
		t.Run(v.getter, func(t *testing.T) {
			m := regexp.MustCompile(`(?m)^get fun ` + v.getter + `\([^)]*\):\s*(\w+)\s*\{`).FindStringSubmatch(sources[v.file])
			if m == nil {
				t.Fatalf("%s has no get-method %s returning a struct", v.file, v.getter)
			}
			tolk := tolkStruct(t, sources, m[1])
			gt := reflect.TypeOf(v.view)
			var goFields []reflect.StructField
			for i := range gt.NumField() {
				if f := gt.Field(i); f.Tag.Get("stack") != "-" {
					goFields = append(goFields, f)
				}
			}
			if len(goFields) != len(tolk) {
				t.Fatalf("Go %s has %d stack fields, Tolk %s has %d", gt, len(goFields), m[1], len(tolk))
			}
			for i, tf := range tolk {
				gf := goFields[i]
				if !strings.EqualFold(gf.Name, tf.name) {
					t.Errorf("field %d: Go %s.%s, Tolk %s.%s", i+1, gt, gf.Name, m[1], tf.name)
				}
				tags := stackTagsFor(tf.typ)
				if tag := gf.Tag.Get("stack"); !slices.Contains(tags, tag) {
					t.Errorf("field %d (%s): Go tag %q does not read Tolk %s (want one of %q)", i+1, gf.Name, tag, tf.typ, tags)
				}
			}
			if _, err := viewFields(gt); err != nil {
				t.Errorf("view %s: %v", gt, err)
			}
		})
	}
	// Every get-method of Root, Worker and Job that returns a struct has a view.
	for _, file := range []string{"root.tolk", "worker.tolk", "job.tolk"} {
		for _, m := range getFunRe.FindAllStringSubmatch(sources[file], -1) {
			getter, ret := m[1], m[2]
			if stackTagsFor(ret) == nil && ret != "int" && !covered[file+" "+getter] {
				t.Errorf("%s: get-method %s returns %s and has no Go view in this test", file, getter, ret)
			}
		}
	}
}
