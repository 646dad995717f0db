// Package cli implements mqctl's commands. main only calls Run, so every
// command can be tested in-process with its output captured.
//
// Exit status, for every command:
//
//	0  success (for checks: nothing wrong was found)
//	1  the command ran and found problems (store verify: an inconsistent store)
//	2  the command could not run: bad usage, or the target could not be opened
package cli
