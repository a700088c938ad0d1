"""The baseline of the intake benchmark: a bare Flask endpoint at the hub's webhook path that reads the
body and answers 202, verifying and storing nothing. Served by the same gunicorn configuration as the
hub (``gunicorn 'bench.bare_app:app'``), so the ratio isolates what the hub's intake adds."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/hooks/<slug>")
def receive(slug: str):
    request.get_data(cache=False)
    return jsonify(event=None, status="accepted"), 202
