// Public elementwise ops: checks and dispatch (in progress).
