"""The page's files, read once: the HTML with its settings filled in, each file's ETag and URL.

Every asset lives under `static/page/<tag>/`, where the tag is the package version and a digest
of all the files, so a browser may keep them for a year: a release that changes any file changes
every URL. The HTML names its assets by relative URLs, so the page also works under a root path.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from app import __version__
from app.domain import rules
from app.service import markets

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "static/page"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        return cls(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:24]}"')


class PageAssets:
    """The page (`html`) and its static files (`files`, by name) as the service serves them."""

    def __init__(self, default_level: float, directory: Path = STATIC_DIR) -> None:
        sources = {
            p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*"))
            if p.is_file()
        }
        template = sources.pop("index.html").decode()
        digest = hashlib.sha256()
        for name, body in sources.items():
            digest.update(name.encode() + b"\0" + body + b"\0")
        self.tag = f"{__version__}-{digest.hexdigest()[:12]}"
        self.prefix = f"{PREFIX}/{self.tag}"
        self.files = {name: Asset.of(body, _media_type(name)) for name, body in sources.items()}
        # Every module named up front, so the browser fetches them at once, not import by import.
        preload = "\n".join(
            f'<link rel="modulepreload" href="{self.prefix}/{name}">'
            for name in self.files
            if name.endswith(".js") and name != "main.js"
        )
        html = (
            template.replace("{{preload}}", preload)
            .replace("{{static}}", self.prefix)
            .replace("{{default_level}}", f"{default_level:g}")
            .replace("{{default_percent}}", f"{round(default_level * 100)}")
            .replace("{{version}}", __version__)
        )
        for name, value in _rules().items():
            html = html.replace("{{" + name + "}}", value)
        self.html = Asset.of(html.encode(), _TYPES[".html"])

    @property
    def total_bytes(self) -> int:
        """What a browser downloads for the page: the HTML and every static file."""
        return len(self.html.body) + sum(len(a.body) for a in self.files.values())


def _rules() -> dict[str, str]:
    """The input rules as the form's attributes (each feature's bounds, the level's in percent),
    and the markets table's thresholds."""
    values = {
        f"{name}_{end}": f"{bound:g}"
        for name, bounds in rules.LIMITS.items()
        for end, bound in zip(("min", "max"), bounds, strict=True)
    }
    values["level_min_percent"] = f"{round(rules.LEVEL_MIN * 100)}"
    values["level_max_percent"] = f"{round(rules.LEVEL_MAX * 100)}"
    # What the markets table calls poor accuracy and old sales: the service's own thresholds.
    values["poor_percent"] = f"{round(markets.POOR_MEDIAN_APE * 100)}"
    values["old_days"] = f"{markets.OLD_SALES_DAYS}"
    return values


def _media_type(name: str) -> str:
    suffix = Path(name).suffix
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
