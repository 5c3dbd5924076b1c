// linalg rules (in progress).
