// Public indexing ops: checks and dispatch (in progress).
