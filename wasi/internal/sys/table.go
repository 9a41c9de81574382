package sys

// Table maps guest file descriptors to entries. It always hands out the lowest
// free descriptor, as POSIX does: guests (wasi-libc's preopen scan, Go's
// fd 3 listener convention) rely on fds being dense and predictable.
type Table[T any] struct {
	entries []*T
	count   int
}

// Insert stores e at the lowest free descriptor and returns it.
func (t *Table[T]) Insert(e *T) int32 {
	for i, x := range t.entries {
		if x == nil {
			t.entries[i] = e
			t.count++
			return int32(i)
		}
	}
	t.entries = append(t.entries, e)
	t.count++
	return int32(len(t.entries) - 1)
}

// InsertAt stores e at fd, replacing and returning any previous entry.
func (t *Table[T]) InsertAt(fd int32, e *T) (prev *T) {
	if fd < 0 {
		return nil
	}
	for int(fd) >= len(t.entries) {
		t.entries = append(t.entries, nil)
	}
	prev = t.entries[fd]
	t.entries[fd] = e
	if prev == nil {
		t.count++
	}
	return prev
}

// Lookup returns the entry at fd, or false when fd is not open.
func (t *Table[T]) Lookup(fd int32) (*T, bool) {
	if fd < 0 || int(fd) >= len(t.entries) {
		return nil, false
	}
	e := t.entries[fd]
	return e, e != nil
}

// Delete removes fd and returns what was there.
func (t *Table[T]) Delete(fd int32) (*T, bool) {
	e, ok := t.Lookup(fd)
	if ok {
		t.entries[fd] = nil
		t.count--
		for n := len(t.entries); n > 0 && t.entries[n-1] == nil; n-- {
			t.entries = t.entries[:n-1]
		}
	}
	return e, ok
}

// Len is the number of open descriptors.
func (t *Table[T]) Len() int { return t.count }

// Range calls f for each open descriptor in ascending order until f returns false.
func (t *Table[T]) Range(f func(fd int32, e *T) bool) {
	for i, e := range t.entries {
		if e != nil && !f(int32(i), e) {
			return
		}
	}
}
