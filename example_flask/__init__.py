"""The Flask example shop (``gunicorn example_flask.shop:app``)."""
