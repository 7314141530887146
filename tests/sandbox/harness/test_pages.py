"""Payer pages: Jinja2 with autoescaping, over the harness's base layout."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from paygate.sandbox.harness import Pages


def test_values_are_escaped_and_missing_ones_fail(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(
        '{% extends "sandbox_base.html" %}{% block title %}T{% endblock %}'
        "{% block main %}<p title='{{ subject }}'>{{ subject }}</p>{% endblock %}"
    )
    pages = Pages(tmp_path)
    html = pages.text("page.html", subject="<script>alert('x')</script>")
    assert "<script>" not in html and "&lt;script&gt;" in html and "&#39;x&#39;" in html
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert pages.render("page.html", 404, subject="s").status_code == 404
    with pytest.raises(jinja2.UndefinedError):
        pages.text("page.html")
