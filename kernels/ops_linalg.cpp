// Public linalg ops: checks and dispatch (in progress).
