"""The `lambda-tracing` command line."""


def main() -> int:
    return 0
