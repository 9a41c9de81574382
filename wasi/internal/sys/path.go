package sys

import "strings"

// Lookupflags are the preview1 lookupflags.
type Lookupflags uint32

// LookupSymlinkFollow makes the last component's symlink be followed.
const LookupSymlinkFollow Lookupflags = 1

// checkPath rejects what can never be resolved beneath a directory.
func checkPath(path string) Errno {
	switch {
	case path == "":
		return ENOENT
	case path[0] == '/':
		return ENOTCAPABLE
	case strings.IndexByte(path, 0) >= 0:
		return EINVAL
	}
	return ESUCCESS
}

// Oflags are the preview1 oflags of path_open.
type Oflags uint16

const (
	OflagCreat Oflags = 1 << iota
	OflagDirectory
	OflagExcl
	OflagTrunc
)

// OpenRequest is what path_open asks for.
type OpenRequest struct {
	Dir              int32
	Lookup           Lookupflags
	Path             string
	Oflags           Oflags
	RightsBase       Rights
	RightsInheriting Rights
	Fdflags          Fdflags
}

// dirFile returns the directory descriptor fd carrying rights r: EBADF when
// not open, ENOTDIR when not a directory, EROFS when r would change a
// read-only directory, ENOTCAPABLE when another right is missing.
func (s *System) dirFile(fd int32, r Rights) (*File, Errno) {
	f, errno := s.Lookup(fd)
	if errno != 0 {
		return nil, errno
	}
	if f.Type != FiletypeDirectory {
		return nil, ENOTDIR
	}
	if f.ReadOnly && r&RightsMutating != 0 {
		return nil, EROFS
	}
	if !f.Has(r) {
		return nil, ENOTCAPABLE
	}
	return f, ESUCCESS
}

// openDir checks what path_open asks for and returns the directory it
// opens beneath and the host access it needs: write for FD_WRITE, read
// for FD_READ or FD_READDIR. Errors: those of dirFile, EINVAL for unknown
// flags, EROFS for write access beneath a read-only preopen.
func (s *System) openDir(req OpenRequest) (dir *File, read, write bool, errno Errno) {
	need := RightPathOpen
	if req.Oflags&OflagCreat != 0 {
		need |= RightPathCreateFile
	}
	if req.Oflags&OflagTrunc != 0 {
		need |= RightPathFilestatSetSize
	}
	dir, errno = s.dirFile(req.Dir, need)
	if errno != 0 {
		return nil, false, false, errno
	}
	if req.Oflags&^(OflagCreat|OflagDirectory|OflagExcl|OflagTrunc) != 0 ||
		req.Fdflags&^(FdflagAppend|FdflagDsync|FdflagNonblock|FdflagRsync|FdflagSync) != 0 ||
		req.Lookup&^LookupSymlinkFollow != 0 {
		return nil, false, false, EINVAL
	}

	read = req.RightsBase&(RightFdRead|RightFdReaddir) != 0
	write = req.RightsBase&RightFdWrite != 0
	if dir.ReadOnly && write {
		// Beneath a read-only preopen the host opens nothing for writing:
		// the kernel refuses writes too, not only the rights.
		return nil, false, false, EROFS
	}
	return dir, read, write, ESUCCESS
}

// opened is the File path_open makes, without its host side, for a file
// of type t opened beneath dir with the access read and write (see Open
// for the rights it carries).
func opened(dir *File, req OpenRequest, t Filetype, read, write bool) *File {
	maxBase, maxInh := MaxRights(t)
	const data = RightFdRead | RightFdWrite
	grant := maxBase &^ data
	if read {
		grant |= RightFdRead
	}
	if write {
		grant |= RightFdWrite
	}
	f := &File{
		Type:             t,
		Flags:            req.Fdflags,
		RightsBase:       (req.RightsBase | grant) & dir.RightsInheriting & maxBase,
		RightsInheriting: (req.RightsInheriting | maxInh&^data) & dir.RightsInheriting & maxInh,
		ReadOnly:         dir.ReadOnly,
	}
	return f
}

// dirPair returns the directories of a rename or link: oldDir carrying
// oldRights and newDir carrying newRights (see dirFile).
func (s *System) dirPair(oldDir int32, oldRights Rights, newDir int32, newRights Rights) (od, nd *File, errno Errno) {
	if od, errno = s.dirFile(oldDir, oldRights); errno != 0 {
		return nil, nil, errno
	}
	if nd, errno = s.dirFile(newDir, newRights); errno != 0 {
		return nil, nil, errno
	}
	return od, nd, ESUCCESS
}
