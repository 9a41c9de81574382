// Package inherited keeps the descriptors a program was started with to
// the program itself.
package inherited

// CloseOnExec marks every descriptor from 3 up close-on-exec, so that none
// the program inherited (a shell's `exec 7<secret`, a supervisor's lock or
// log) passes on to the processes it starts: a container process, whose
// guest may escape WebAssembly, CNI plugins, hooks. Call it first in main,
// before any process is started; a descriptor meant for a child is passed
// explicitly (exec.Cmd.ExtraFiles). On Windows a handle is inherited only
// when made inheritable, and it does nothing.
func CloseOnExec() { closeOnExec() }
