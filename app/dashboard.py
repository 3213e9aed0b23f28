"""The pages for people: the dashboard at / and the API reference at /docs.

Both are static HTML filled in by the browser from the API itself, with
the CSS and JavaScript of app/static; nothing is fetched from elsewhere.
"""
from flask import Blueprint, render_template

pages = Blueprint("pages", __name__)


@pages.get("/")
def dashboard():
    """The dashboard: ask a question, watch the job, read the answer."""
    return render_template("dashboard.html")


@pages.get("/docs")
def docs():
    """The API reference, rendered from /api/openapi.json."""
    return render_template("docs.html")
