"""An organisation's look and wording for reports, read from a folder (SCIS_REPORT_BRANDING_DIR), no code.

The folder may hold, all optional:
- `logo.svg` or `logo.png`: shown at the top of page 1 (embedded as data, nothing is fetched);
- `wording.en.json`, `wording.fr.json`: any of the keys of templates/wording/<lang>.json, replacing
  the default text (the `header` and `footer` keys are the running page header and footer).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

WORDING_DIR = Path(__file__).resolve().parent / "templates" / "wording"
LANGUAGES = ("en", "fr")
LOGO_TYPES = {"logo.svg": "image/svg+xml", "logo.png": "image/png"}


class BrandingError(ValueError):
    """The branding folder holds something the report cannot use; the message says which file and why."""


@dataclass(frozen=True)
class Branding:
    wording: dict[str, str]
    logo: str | None  # a data: URI


@lru_cache(maxsize=len(LANGUAGES))
def default_wording(language: str) -> dict[str, str]:
    return dict(json.loads((WORDING_DIR / f"{language}.json").read_text(encoding="utf-8")))


def wording_overrides(path: Path, known: set[str]) -> dict[str, str]:
    """The texts a wording file replaces; BrandingError naming the file and key when one is unusable."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BrandingError(f"{path}: not readable JSON ({error}); fix or remove the file") from None
    if not isinstance(found, dict):
        raise BrandingError(f"{path}: must be a JSON object of text keys, found {type(found).__name__}")
    for key, value in found.items():
        if key not in known:
            raise BrandingError(f"{path}: unknown key {key!r}; the keys are those of {WORDING_DIR}/en.json")
        if not isinstance(value, str):
            raise BrandingError(f"{path}: key {key!r} must be text, found {type(value).__name__}")
    return found


def load_branding(folder: Path | None, language: str) -> Branding:
    """Default wording for `language` with the folder's overrides and logo applied."""
    wording = default_wording(language).copy()
    logo = None
    if folder is not None:
        if not folder.is_dir():
            raise BrandingError(f"SCIS_REPORT_BRANDING_DIR {folder} is not a folder; create it or unset the setting")
        override = folder / f"wording.{language}.json"
        if override.is_file():
            wording.update(wording_overrides(override, set(wording)))
        for name, media_type in LOGO_TYPES.items():
            if (folder / name).is_file():
                encoded = base64.b64encode((folder / name).read_bytes()).decode("ascii")
                logo = f"data:{media_type};base64,{encoded}"
                break
    return Branding(wording=wording, logo=logo)
