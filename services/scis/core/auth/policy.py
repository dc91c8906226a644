"""Password policy: long enough, and not one of the passwords attackers try first.

The common-password list is zxcvbn's (MIT licence): the 30,000 most frequent passwords of real
breach corpora, maintained with the zxcvbn estimator. It is loaded once, on first use.
"""

from __future__ import annotations

from functools import lru_cache

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
_DECORATION = "0123456789!@#$%^&*?.-_ "


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str) -> str | None:
    """Why the password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password is {len(password)} characters long; use at least {MIN_PASSWORD_LENGTH}"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"the password is {len(password)} characters long; use at most {MAX_PASSWORD_LENGTH}"
    lowered = password.lower()
    if lowered in common_passwords():
        return "the password is on the list of most common passwords attackers try first; choose another"
    # "password2024!" is "password" with the decoration every cracking rule set appends.
    base = lowered.rstrip(_DECORATION)
    if base != lowered and base in common_passwords():
        return f"the password is the common password {base!r} with digits or symbols appended; choose another"
    if len(set(password)) < 4:
        return "the password repeats too few different characters; choose a passphrase of several words"
    return None


def check_password(password: str) -> str:
    """The password unchanged, or ValueError saying why it is refused (pydantic names the field)."""
    problem = password_problem(password)
    if problem is not None:
        raise ValueError(problem)
    return password
