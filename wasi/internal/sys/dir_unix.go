//go:build linux || darwin

package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// readDir reads every entry of f, a directory.
func (f *File) readDir() ([]Dirent, Errno) { return readDir(f.Fd) }

// readDir reads every entry of the directory open at fd. It reads through
// its own descriptor (openat "."), so the guest's descriptor position and
// open mode do not matter.
func readDir(fd int) ([]Dirent, Errno) {
	dfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, ErrnoFromError(err)
	}
	defer unix.Close(dfd)
	var entries []Dirent
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.ReadDirent(dfd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, ErrnoFromError(err)
		}
		if n <= 0 {
			return entries, ESUCCESS
		}
		entries = parseDirents(dfd, buf[:n], entries)
	}
}

// linux_dirent64 field offsets.
const (
	direntIno    = unsafe.Offsetof(unix.Dirent{}.Ino)
	direntReclen = unsafe.Offsetof(unix.Dirent{}.Reclen)
	direntType   = unsafe.Offsetof(unix.Dirent{}.Type)
	direntName   = unsafe.Offsetof(unix.Dirent{}.Name)
)

// parseDirents appends the linux_dirent64 records in buf to entries. An
// entry of unknown type (some file systems) is typed with fstatat.
func parseDirents(dfd int, buf []byte, entries []Dirent) []Dirent {
	for len(buf) >= int(direntName) {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[direntReclen])))
		if reclen < int(direntName) || reclen > len(buf) {
			break
		}
		rec := buf[:reclen]
		buf = buf[reclen:]
		name := rec[direntName:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		d := Dirent{
			Ino:  *(*uint64)(unsafe.Pointer(&rec[direntIno])),
			Name: string(name),
			Type: direntFiletype(rec[direntType]),
		}
		if rec[direntType] == unix.DT_UNKNOWN {
			var st unix.Stat_t
			if unix.Fstatat(dfd, d.Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
				d.Type = ModeFiletype(uint32(st.Mode))
			}
		}
		entries = append(entries, d)
	}
	return entries
}

func direntFiletype(t uint8) Filetype {
	switch t {
	case unix.DT_DIR:
		return FiletypeDirectory
	case unix.DT_REG:
		return FiletypeRegularFile
	case unix.DT_LNK:
		return FiletypeSymbolicLink
	case unix.DT_CHR:
		return FiletypeCharacterDevice
	case unix.DT_BLK:
		return FiletypeBlockDevice
	case unix.DT_SOCK:
		return FiletypeSocketStream
	}
	return FiletypeUnknown
}
