# RDFace Explorer in a container: the Streamlit app on port 8501.
#
#   docker build -t rdface-explorer .
#   docker run --rm -p 127.0.0.1:8501:8501 \
#       -v /path/to/datasets:/data:ro -v rdface-cache:/cache rdface-explorer
#
# The app binds 0.0.0.0 only inside the container; publish the port on
# 127.0.0.1 (as above) unless other machines should reach it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RDFACE_EXPLORER_CACHE=/cache \
    RDFACE_EXPLORER_DATASET_ROOTS=/data \
    HF_HOME=/cache/huggingface

WORKDIR /app

# The same install script that CI runs (without the test browser).
COPY requirements.txt ./
COPY .ci/install-deps.sh .ci/install-deps.sh
RUN bash .ci/install-deps.sh && rm -rf /var/lib/apt/lists/*

COPY . .

RUN useradd --create-home --uid 1000 explorer \
    && mkdir -p /cache /data \
    && chown explorer:explorer /cache
USER explorer

VOLUME ["/data", "/cache"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD curl --fail --silent http://127.0.0.1:8501/_stcore/health || exit 1

ENTRYPOINT ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
