"""cwb's demo package: a C extension with one function."""
from cwb_demo._native import dot

__all__ = ["dot"]
