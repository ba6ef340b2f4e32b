# imageserver: `docker build -t imageserver .`, then `docker run -p 7000:7000 imageserver serve
# --host 0.0.0.0` (docker-compose.yml runs it scaled out). The pyvips-binary wheel carries libvips
# and pypdfium2 carries PDFium, so the slim image needs no system packages.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY imageserver ./imageserver
COPY cli ./cli
RUN pip install .

# Not root: local storage (--storage /data, the default ./data) and the SQLite jobs file are its own.
RUN useradd --create-home --uid 10001 imageserver && mkdir /data && chown imageserver /data
USER imageserver
WORKDIR /data
ENV IMAGESERVER_STORAGE=/data

EXPOSE 7000
ENTRYPOINT ["imageserver"]
CMD ["serve", "--host", "0.0.0.0", "--port", "7000"]
