# Production image: gunicorn serving Huis clos. Static files are collected at
# build time (the compose `collectstatic` job copies them to the volume nginx
# serves); scans and letters live on a volume outside them.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings \
    HUISCLOS_STATIC_ROOT=/srv/huisclos/static

# WeasyPrint's libraries (libharfbuzz-subset0 makes rendering 3x faster),
# fonts embedded in the letters, and poppler for signature checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
      fontconfig fonts-dejavu-core fonts-liberation2 poppler-utils gettext \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /srv/huisclos --create-home huisclos

WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY . .
RUN msgfmt --check -o locale/fr/LC_MESSAGES/django.mo locale/fr/LC_MESSAGES/django.po \
 && DJANGO_DEBUG=true python manage.py collectstatic --no-input \
 && mkdir -p /srv/huisclos/private /srv/huisclos/audit-checkpoints /srv/huisclos/static \
 && chown -R huisclos /srv/huisclos

USER huisclos
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]
