"""Reading a desktop entry's Exec value back into arguments, as a desktop does."""

from __future__ import annotations

STRING_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
QUOTED_ESCAPES = '"`$\\'


def exec_arguments(value: str) -> list[str]:
    """The file's string escapes first, then the Exec quoting rules."""
    unescaped = ""
    characters = iter(value)
    for character in characters:
        if character == "\\":
            following = next(characters, "")
            unescaped += STRING_ESCAPES.get(following, "\\" + following)
        else:
            unescaped += character

    arguments: list[str] = []
    current: str | None = None
    quoted = False
    position = 0
    while position < len(unescaped):
        character = unescaped[position]
        position += 1
        if quoted:
            if character == "\\" and unescaped[position : position + 1] in (
                tuple(QUOTED_ESCAPES)
            ):
                current = (current or "") + unescaped[position]
                position += 1
            elif character == '"':
                quoted = False
            else:
                current = (current or "") + character
        elif character == " ":
            if current is not None:
                arguments.append(current)
            current = None
        elif character == '"':
            quoted = True
            current = current or ""
        else:
            current = (current or "") + character
    if current is not None:
        arguments.append(current)
    # %% is a literal %; the app's entry uses no field codes.
    return [argument.replace("%%", "%") for argument in arguments]
