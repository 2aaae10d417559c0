class SneknerError(Exception):
    """Bad input or state the user can fix. The message is one line: what is wrong, then how to fix it."""
