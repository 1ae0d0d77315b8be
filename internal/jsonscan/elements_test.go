package jsonscan

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/tidwall/gjson"
)

func elements(s string) ([]string, bool) {
	var got []string
	ok := Elements(s, func(raw string) { got = append(got, raw) })
	return got, ok
}

func TestElements(t *testing.T) {
	for _, s := range []string{`[]`, ` [ ] `, `[1]`, `[{"a":"]"},[2,3], "x" ,null,-1.5e3]`, "[\n{\"b\":[]}\r\n]"} {
		var want []string
		for _, r := range gjson.Parse(s).Array() {
			want = append(want, r.Raw)
		}
		if got, ok := elements(s); !ok || !slices.Equal(got, want) {
			t.Errorf("%s: got %q (ok %v), want %q", s, got, ok, want)
		}
	}
	tests := []struct {
		name, in string
		want     []string
	}{
		{"not an array", `{"a":1}`, nil},
		{"empty", ``, nil},
		{"cut in the second element", `[{"a":1},{"b":`, []string{`{"a":1}`}},
		{"cut after a comma", `[1,2,`, []string{"1", "2"}},
		{"cut before the bracket", `[1,2`, []string{"1", "2"}},
		{"no comma", `[1 2]`, []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, ok := elements(tt.in); ok || !slices.Equal(got, tt.want) {
				t.Errorf("Elements(%q) = %q, %v; want %q, false", tt.in, got, ok, tt.want)
			}
		})
	}
}

func FuzzElements(f *testing.F) {
	f.Add(`[{"a":[1,"]"]},2,"\"",null]`)
	f.Add(`[[],{}]`)
	f.Fuzz(func(t *testing.T, s string) {
		var arr []json.RawMessage
		if json.Unmarshal([]byte(s), &arr) != nil || arr == nil { // null is no array
			elements(s) // must not panic
			return
		}
		got, ok := elements(s)
		if !ok || len(got) != len(arr) {
			t.Fatalf("%s: got %q (ok %v), want %d elements", s, got, ok, len(arr))
		}
		for i, raw := range got {
			if raw != string(arr[i]) {
				t.Fatalf("%s: element %d is %q, want %s", s, i, raw, arr[i])
			}
		}
	})
}
