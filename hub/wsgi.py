"""WSGI entry point for production servers: ``gunicorn 'hub.wsgi:app'``.

Serving processes (this, ``badgehub serve``) pick up events left waiting by a crash or a restart;
CLI commands that only build the app do not.
"""

from hub import create_app

app = create_app()
app.extensions["hub.jobs"].recover()
