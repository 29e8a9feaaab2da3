# Branch CRM production image: one image for the migrate, web, worker and beat services (docker-compose.yml).
# Installs the base package only: no embedded servers, no test tools (those are the dev extras).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=crm_site.settings

WORKDIR /app

RUN groupadd --system crm && useradd --system --gid crm --home-dir /app --no-create-home crm

# Dependencies first, so a code change does not reinstall them. pyproject.toml declares no packages
# (the code runs from /app), so these three files are all `pip install .` reads.
COPY pyproject.toml constraints.txt README.md ./
RUN pip install -c constraints.txt . && rm -rf build *.egg-info

COPY . .

# The static and media volumes take this ownership when docker-compose first creates them.
RUN mkdir -p /app/staticfiles /app/media && chown crm:crm /app/staticfiles /app/media

USER crm
EXPOSE 8000
# Workers, threads and port: gunicorn.conf.py (threaded workers, so a minute-long XLSX export is not killed).
CMD ["gunicorn", "crm_site.wsgi:application"]
