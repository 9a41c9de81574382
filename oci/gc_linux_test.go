package oci

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveAbandoned: the state directories of processes killed at the
// narrowest instants go at the next GC, and only those: one being made
// whose creator died before its state.json was in it (the creator is in
// its name), and a container's that a Delete killed halfway through left
// without its state.json (which would hide from List and block the id).
// A directory being made by a live creator, and a container with its
// state, stay.
func TestRemoveAbandoned(t *testing.T) {
	rt := &Runtime{Root: t.TempDir()}
	dead := &stateFile{ID: "dead", Owner: exitedPid(t), OwnerTime: 1}
	self := &stateFile{ID: "self", Owner: os.Getpid(), OwnerTime: pidStartTime(os.Getpid())}
	mkdir := func(name string, files ...string) string {
		p := filepath.Join(rt.Root, name)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(p, f), []byte("{}"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	gone := []string{
		mkdir(creatingName(dead) + "123"),
		mkdir("halfdeleted", execFifo),
	}
	kept := []string{
		mkdir(creatingName(self) + "456"),
		mkdir("whole", "state.json"),
	}
	if st, ok := creatingOwner(filepath.Base(gone[0])); !ok || st.Owner != dead.Owner || st.OwnerTime != 1 {
		t.Errorf("creatingOwner(%s) = %d, %d, %v", filepath.Base(gone[0]), st.Owner, st.OwnerTime, ok)
	}
	rt.removeAbandoned()
	for _, p := range gone {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	for _, name := range []string{".creating-x", ".creating-x-1", ".creating-x-y.z-1", fmt.Sprintf(".creating-x-%d-1", os.Getpid())} {
		if st, ok := creatingOwner(name); ok {
			t.Errorf("creatingOwner(%s) = %d, %d, want no owner", name, st.Owner, st.OwnerTime)
		}
	}
}
