"""WSGI entry point for production servers: ``gunicorn 'hub.wsgi:app'``.

In ``HUB_JOB_MODE=thread`` (the default) each serving process (this, ``badgehub serve``) runs the job
runner's loop threads (:mod:`hub.jobs.runner`), which also pick up work left by a crash or a restart;
CLI commands that only build the app do not.
"""

from hub import create_app

app = create_app()
app.extensions["hub.jobs"].start()
