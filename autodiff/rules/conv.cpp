// conv rules (in progress).
