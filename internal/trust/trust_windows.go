package trust

import "os"

// check: Windows has no Unix owner and mode bits; a user's profile
// directories (where the cache is) are closed to other users by their
// ACLs.
func check(p string, fi os.FileInfo, above bool) error { return nil }

func checkOwner(p string, fi os.FileInfo) error { return nil }
