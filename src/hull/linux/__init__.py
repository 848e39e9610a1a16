"""Thin, typed wrappers over the Linux syscalls hull needs that Python's os module lacks.

No policy lives here: each function does one syscall and raises OSError on failure.
"""
