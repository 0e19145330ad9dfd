"""The web console of `dataplane up`: one static page served by the control API, talking to that same API.

``app.add_routes`` mounts it; the page (``static/``) reads the API's JSON and acts through it with the
token of this start, so it can do nothing the CLI cannot and is checked by the same validation.
"""
