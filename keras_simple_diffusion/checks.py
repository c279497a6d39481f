"""Argument checks shared by the Python API and the CLI.

Each check raises a one-line `ValueError` that names the argument and the
value it received, so that the CLI can print it as it is.
"""

import math
import numbers


def _received(name, value):
    return f"Received: {name}={value!r}"


def check_number(name, value, minimum=None, maximum=None, inclusive=(True, True)):
    """A finite real number (not a bool or a string), optionally within bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a number. {_received(name, value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite. {_received(name, value)}")
    low_ok = minimum is None or (value >= minimum if inclusive[0] else value > minimum)
    high_ok = maximum is None or (value <= maximum if inclusive[1] else value < maximum)
    if not (low_ok and high_ok):
        low = "-inf" if minimum is None else minimum
        high = "inf" if maximum is None else maximum
        interval = (
            ("[" if inclusive[0] else "(") + f"{low}, {high}" + ("]" if inclusive[1] else ")")
        )
        raise ValueError(f"`{name}` must be in {interval}. {_received(name, value)}")
    return value


def check_int(name, value, minimum=None, maximum=None, allow_none=False):
    """An integer (Python or NumPy, not a bool or a float), optionally within bounds."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be an integer. {_received(name, value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be at least {minimum}. {_received(name, value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be at most {maximum}. {_received(name, value)}")
    return value


def check_positive_int(name, value, allow_none=False):
    """An integer >= 1 (or None when `allow_none`)."""
    return check_int(name, value, minimum=1, allow_none=allow_none)


# Seeds are used as 32-bit integers by every backend's random number generator.
MAX_SEED = 2**31 - 1


def check_seed(name, value, allow_none=True):
    """A seed in [0, 2**31 - 1], or None."""
    return check_int(name, value, minimum=0, maximum=MAX_SEED, allow_none=allow_none)


def check_choice(name, value, choices):
    """One of `choices`."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {sorted(choices)}. {_received(name, value)}")
    return value


NAMED_COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0)}


def check_colour(name, value):
    """An RGB colour: "white", "black", "R,G,B" text, or three integers, each in
    [0, 255]; returned as a tuple of three ints."""
    if isinstance(value, str):
        if value.strip().lower() in NAMED_COLOURS:
            return NAMED_COLOURS[value.strip().lower()]
        parts = value.split(",")
        if len(parts) == 3 and all(part.strip().isdigit() for part in parts):
            value = tuple(int(part) for part in parts)
    is_triple = isinstance(value, (tuple, list)) and len(value) == 3
    if not (
        is_triple
        and all(isinstance(part, numbers.Integral) and not isinstance(part, bool) for part in value)
        and all(0 <= part <= 255 for part in value)
    ):
        raise ValueError(
            f"`{name}` must be 'white', 'black' or 'R,G,B' with integers in [0, 255]. "
            f"{_received(name, value)}"
        )
    return tuple(int(part) for part in value)
