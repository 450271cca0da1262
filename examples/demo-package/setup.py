from setuptools import Extension, setup

setup(
    packages=["cwb_demo"],
    ext_modules=[Extension("cwb_demo._native", ["cwb_demo/_native.c"])],
)
