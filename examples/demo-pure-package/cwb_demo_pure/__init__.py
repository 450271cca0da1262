"""cwb's pure-Python demo package."""


def greet(name: str) -> str:
    return f"hello, {name}, from a wheel built by cwb"
