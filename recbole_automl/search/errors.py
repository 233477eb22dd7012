"""The search core's own error type."""


class SearchError(ValueError):
    """A search that cannot run as given (a malformed space, an unknown strategy name).

    The message names what is wrong and what is allowed; it is raised before anything
    trains. The plugin turns it into its ``ConfigError`` at the config boundary.
    """
