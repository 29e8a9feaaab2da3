"""gunicorn settings for the `web` service (read from the working directory; docker-compose and the Dockerfile
start `gunicorn crm_site.wsgi:application` in /app).

Threaded workers: a sync worker that spends longer than `timeout` on one request is killed by the arbiter, and
an XLSX export of a million customers takes about a minute (measured: 1,000,000 rows, 75.8 MB, 63.5 s; a sync
worker died at 30 s and the download failed with 500). A gthread worker keeps answering the arbiter while its
threads serve requests, and its other threads serve other users meanwhile. Django and this project run threaded
in development too (runserver, the browser tests' live server).
"""

import os

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "4"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "4"))
# Seconds a worker may go without answering the arbiter (a stuck process, not a long request).
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
# Seconds a worker has to finish its requests on a restart or deploy (an export in progress); docker-compose's
# stop_grace_period for `web` is longer, so the container is not killed before gunicorn is done.
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "120"))
