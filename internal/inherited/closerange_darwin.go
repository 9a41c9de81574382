package inherited

func closeRange() bool { return false }
