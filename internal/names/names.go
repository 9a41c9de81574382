// Package names checks the names wasmrun turns into file, namespace and
// interface names (container ids, namespace prefixes, bridge names). It
// avoids regexp on purpose: counted repetitions compile into large automata
// at program start, and every wasmrun start pays for package init.
package names

// Valid reports whether s is 1 to max bytes long, starts with a letter or a
// digit (lowercase only when lower is set), and otherwise has only letters,
// digits and the bytes in extra.
func Valid(s string, max int, extra string, lower bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z':
		case c >= 'A' && c <= 'Z' && !lower:
		case i > 0 && containsByte(extra, c):
		default:
			return false
		}
	}
	return true
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}
