# The Vigie image for docker-compose.yml: Debian 12, Python 3.11, the same setup script.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake git tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng poppler-utils \
        libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/vigie
COPY . .
ENV VIGIE_VENV=/opt/vigie/.venv VIGIE_HOME=/data/vigie VIGIE_MODELS_DIR=/opt/vigie/models PATH=/opt/vigie/.venv/bin:$PATH
RUN scripts/setup.sh
EXPOSE 8501
CMD ["vigie", "ui", "--host", "0.0.0.0"]
