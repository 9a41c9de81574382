package runner

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wasmrun/wasmrun/internal/trust"
)

// trustCache tells whether the cache in dir may be used, making dir (mode
// 0700) when it is missing. wazero runs the machine code of an entry it
// reads after checking no more than a checksum, which anyone can compute:
// whoever can write an entry runs code as the next user of the module,
// root included. So the cache is used only where nobody but the caller
// and root can write (package trust's rule: dir, every directory above
// it, and wazero's directories in it), as sshd reads authorized_keys.
func trustCache(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if err := trust.Path(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "wazero-") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if err := trust.Entry(filepath.Join(dir, e.Name()), fi); err != nil {
			return err
		}
	}
	return nil
}
