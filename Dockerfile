# Settle: one image holds settle-api, settle-worker and settle.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libmicrohttpd-dev librabbitmq-dev libpq-dev \
        libjansson-dev libssl-dev libcurl4-openssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DSETTLE_TESTS=OFF \
    && cmake --build /build -j"$(nproc)"

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        libmicrohttpd12 librabbitmq4 libpq5 libjansson4 libssl3 libcurl4 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/settle settle \
    && mkdir -p /var/lib/settle/storage && chown -R settle /var/lib/settle
COPY --from=build /build/settle-api /build/settle-worker /build/settle /usr/local/bin/
USER settle
ENV SETTLE_STORAGE_DIR=/var/lib/settle/storage SETTLE_LISTEN=0.0.0.0:8080
EXPOSE 8080
CMD ["settle-api"]
