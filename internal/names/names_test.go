package names

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tc := range []struct {
		s     string
		max   int
		extra string
		lower bool
		want  bool
	}{
		{"web-1.a_b", 128, "_.-", false, true},
		{"", 128, "_.-", false, false},
		{"-web", 128, "_.-", false, false},
		{"web/x", 128, "_.-", false, false},
		{"..", 128, "_.-", false, false},
		{strings.Repeat("a", 128), 128, "_.-", false, true},
		{strings.Repeat("a", 129), 128, "_.-", false, false},
		{"Web", 16, "-", true, false},
		{"web-1", 16, "-", true, true},
		{"web_1", 16, "-", true, false},
		{"wé", 16, "-", false, false},
	} {
		if got := Valid(tc.s, tc.max, tc.extra, tc.lower); got != tc.want {
			t.Errorf("Valid(%q, %d, %q, %v) = %v, want %v", tc.s, tc.max, tc.extra, tc.lower, got, tc.want)
		}
	}
}
