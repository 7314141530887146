"""Payer pages (cashiers, QR landing pages, 3-D Secure challenges) rendered with Jinja2.

Each channel keeps its pages as template files in its own ``templates/`` folder; they
extend the harness's ``sandbox_base.html`` (the page skeleton: charset, viewport, title, a
``style`` block and a ``main`` block). Autoescaping is on for every template, so a merchant's
subject or a trade number can never inject markup; a template that names a variable it was
not given fails loudly (``StrictUndefined``) instead of rendering an empty string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import jinja2
from starlette.responses import HTMLResponse

__all__ = ["HARNESS_TEMPLATES", "Pages"]

#: The shared layout every channel's templates extend.
HARNESS_TEMPLATES: Final = Path(__file__).parent / "templates"


class Pages:
    """The templates of one channel (``templates``) over the harness's."""

    def __init__(self, templates: Path) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [jinja2.FileSystemLoader(templates), jinja2.FileSystemLoader(HARNESS_TEMPLATES)]
            ),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def text(self, name: str, **context: Any) -> str:
        return self._env.get_template(name).render(**context)

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(self.text(name, **context), status_code=status)
