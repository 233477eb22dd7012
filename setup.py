import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def _requirements():
    with open(os.path.join(HERE, "requirements.txt")) as f:
        lines = (line.split("#")[0].strip() for line in f)
        return [line for line in lines if line]


setup(
    name="recbole-automl",
    version="0.1.0",
    description="Automated machine learning for RecBole: searched recommenders for your data",
    long_description=open(os.path.join(HERE, "README.md")).read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["recbole_automl", "recbole_automl.*"]),
    package_data={
        "recbole_automl": [
            "properties/*.yaml", "properties/model/*.yaml", "properties/spaces/*.yaml",
        ],
    },  # fmt: skip
    python_requires=">=3.9",
    # recbole==1.2.1 and torch are installed first, recbole with --no-deps (Makefile).
    install_requires=_requirements(),
    extras_require={"ray": ["ray>=2.40"], "dev": ["pytest>=8", "ruff>=0.5", "black>=24"]},
    license="MIT",
)
