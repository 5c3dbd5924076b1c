// pool rules (in progress).
