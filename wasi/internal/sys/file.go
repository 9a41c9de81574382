package sys

// Filetype is the preview1 filetype of an open descriptor.
type Filetype uint8

const (
	FiletypeUnknown Filetype = iota
	FiletypeBlockDevice
	FiletypeCharacterDevice
	FiletypeDirectory
	FiletypeRegularFile
	FiletypeSocketDgram
	FiletypeSocketStream
	FiletypeSymbolicLink
)

// Fdflags are the preview1 fdflags.
type Fdflags uint16

const (
	FdflagAppend   Fdflags = 1 << 0
	FdflagDsync    Fdflags = 1 << 1
	FdflagNonblock Fdflags = 1 << 2
	FdflagRsync    Fdflags = 1 << 3
	FdflagSync     Fdflags = 1 << 4
)

// Rights are the preview1 rights bits.
type Rights uint64

const (
	RightFdDatasync Rights = 1 << iota
	RightFdRead
	RightFdSeek
	RightFdFdstatSetFlags
	RightFdSync
	RightFdTell
	RightFdWrite
	RightFdAdvise
	RightFdAllocate
	RightPathCreateDirectory
	RightPathCreateFile
	RightPathLinkSource
	RightPathLinkTarget
	RightPathOpen
	RightFdReaddir
	RightPathReadlink
	RightPathRenameSource
	RightPathRenameTarget
	RightPathFilestatGet
	RightPathFilestatSetSize
	RightPathFilestatSetTimes
	RightFdFilestatGet
	RightFdFilestatSetSize
	RightFdFilestatSetTimes
	RightPathSymlink
	RightPathRemoveDirectory
	RightPathUnlinkFile
	RightPollFdReadwrite
	RightSockShutdown
	RightSockAccept

	// RightsAll is every right preview1 defines.
	RightsAll = RightSockAccept<<1 - 1
)

// The rights each kind of descriptor can carry at most. A descriptor starts
// with the rights of its kind (narrowed by what path_open asked for), and
// fd_fdstat_set_rights may only take rights away.
const (
	RightsRegularFile = RightFdDatasync | RightFdRead | RightFdSeek |
		RightFdFdstatSetFlags | RightFdSync | RightFdTell | RightFdWrite |
		RightFdAdvise | RightFdAllocate | RightFdFilestatGet |
		RightFdFilestatSetSize | RightFdFilestatSetTimes | RightPollFdReadwrite

	RightsDirectory = RightFdFdstatSetFlags | RightFdSync | RightFdAdvise |
		RightPathCreateDirectory | RightPathCreateFile | RightPathLinkSource |
		RightPathLinkTarget | RightPathOpen | RightFdReaddir | RightPathReadlink |
		RightPathRenameSource | RightPathRenameTarget | RightPathFilestatGet |
		RightPathFilestatSetSize | RightPathFilestatSetTimes | RightFdFilestatGet |
		RightFdFilestatSetTimes | RightPathSymlink | RightPathRemoveDirectory |
		RightPathUnlinkFile | RightPollFdReadwrite

	// RightsStream is what stdio, pipes and character devices carry.
	RightsStream = RightFdRead | RightFdFdstatSetFlags | RightFdWrite |
		RightFdFilestatGet | RightPollFdReadwrite

	RightsSocket = RightFdRead | RightFdFdstatSetFlags | RightFdWrite |
		RightFdFilestatGet | RightPollFdReadwrite | RightSockShutdown | RightSockAccept

	// RightsMutating change a file system: what nothing beneath a
	// read-only preopen carries. Linking or renaming from it is among
	// them (a hard link elsewhere would make its files writable; a rename
	// changes it), as are setting sizes and times.
	RightsMutating = RightFdWrite | RightFdAllocate | RightPathCreateDirectory |
		RightPathCreateFile | RightPathLinkSource | RightPathLinkTarget |
		RightPathRenameSource | RightPathRenameTarget | RightPathFilestatSetSize |
		RightPathFilestatSetTimes | RightFdFilestatSetSize | RightFdFilestatSetTimes |
		RightPathSymlink | RightPathRemoveDirectory | RightPathUnlinkFile
)

// MaxRights returns the most a descriptor of type t may carry.
func MaxRights(t Filetype) (base, inheriting Rights) {
	switch t {
	case FiletypeDirectory:
		return RightsDirectory, RightsDirectory | RightsRegularFile
	case FiletypeRegularFile:
		return RightsRegularFile, 0
	case FiletypeSocketStream, FiletypeSocketDgram:
		return RightsSocket, RightsSocket
	default:
		return RightsStream, 0
	}
}

// stdioRights are the rights of a stdio descriptor of type t: a stream's,
// whatever the host gave. A file redirected in or out may be read,
// written, seeked in and synced, but not truncated, extended or given new
// times (the invoker gave its contents, not the file: wasmtime does the
// same); a directory given as stdin is not a way to its files (it was
// never preopened): its status only.
func stdioRights(t Filetype) (base, inheriting Rights) {
	switch t {
	case FiletypeDirectory:
		return RightFdFilestatGet, 0
	case FiletypeRegularFile:
		return RightsRegularFile&^RightsMutating | RightFdWrite | RightsStream, 0
	}
	return MaxRights(t)
}

// File is one open guest descriptor, backed by a real host descriptor.
type File struct {
	// host is what the system keeps besides Fd (file_windows.go).
	host fileHost
	// Fd is the host descriptor. The File owns it and closes it on Close.
	Fd int
	// Type is what the guest sees in fd_fdstat_get.
	Type Filetype
	// Flags are the fdflags the guest sees; NONBLOCK on non-sockets is
	// emulated (the host descriptor may be shared with other processes).
	Flags Fdflags
	// Shared marks a duplicate of a descriptor the host process (and maybe
	// its parent shell) also uses, like stdio. Its file status flags are
	// never changed: APPEND is emulated per write.
	Shared bool
	// RightsBase and RightsInheriting are reported by fd_fdstat_get.
	RightsBase, RightsInheriting Rights
	// Preopen is the guest name of a preopened directory ("" otherwise).
	Preopen string
	// ReadOnly marks a descriptor beneath a read-only preopen: it carries
	// no mutating right, and asking for one is EROFS.
	ReadOnly bool
	// Dir is the readdir state of a directory, created on first use.
	Dir *DirState
	// Sock is set for sockets.
	Sock *Socket
	// edge is what the emulated epoll_oneoff keeps of it (epoll.go), nil
	// until the guest subscribes to it there.
	edge *edgeState
}

// IsPreopen reports whether f was preopened by the host.
func (f *File) IsPreopen() bool { return f.Preopen != "" }

// Has reports whether f carries all rights in r.
func (f *File) Has(r Rights) bool { return f.RightsBase&r == r }

// DirState is the readdir cursor of a directory descriptor. fd_readdir
// cookies are positions in Entries; Entries is read again when the guest
// rewinds to cookie 0.
type DirState struct {
	Entries []Dirent
	size    int64 // what it counts for in System.dirBytes
}

// Dirent is one directory entry as preview1 reports it.
type Dirent struct {
	Ino  uint64
	Name string
	Type Filetype
}
