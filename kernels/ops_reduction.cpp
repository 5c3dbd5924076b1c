// Public reduction ops: checks and dispatch (in progress).
