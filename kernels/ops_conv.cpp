// Public conv ops: checks and dispatch (in progress).
