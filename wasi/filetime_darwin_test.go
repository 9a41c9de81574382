package wasi

// fileTimeRes: macOS's file times are set to the microsecond.
const fileTimeRes = 1000
