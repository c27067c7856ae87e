"""RESP encoding of commands for the benchmark scripts' generated inputs."""


def command(*args):
    """One command as a RESP array of bulk strings; arguments may be bytes, str or numbers."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)
