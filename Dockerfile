# syntax=docker/dockerfile:1
# tollgate: a small, non-root image with one static binary.
#
#   docker build -t tollgate --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse --short HEAD) .
#   docker run -p 8080:8080 -e OPENAI_API_KEY -v tollgate-data:/data tollgate
#
# The gateway listens on 8080, the admin listener (/healthz, /readyz,
# /metrics, /admin/...) on 8081; state (usage outbox, virtual keys) is in
# /data. See docs/deploy.md.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces bbolt with the patched copy in third_party (see its README).
COPY third_party ./third_party
RUN --mount=type=cache,target=/root/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN --mount=type=cache,target=/root/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/tollgate-dev/tollgate.Version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/tollgate ./cmd/host \
 && /out/tollgate version \
 && mkdir -p /out/data \
 && echo 'tollgate:x:65532:65532:tollgate:/data:/sbin/nologin' > /out/passwd \
 && echo 'tollgate:x:65532:' > /out/group

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /usr/share/zoneinfo /usr/share/zoneinfo
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/tollgate /usr/local/bin/tollgate
USER 65532:65532
WORKDIR /data
# Listen on all interfaces inside the container; the admin API under /admin/
# then needs TOLLGATE_ADMIN_TOKEN (probes and /metrics do not).
ENV TOLLGATE_LISTEN=0.0.0.0:8080 \
    TOLLGATE_ADMIN_LISTEN=0.0.0.0:8081 \
    TOLLGATE_DATA_DIR=/data \
    TOLLGATE_LOG__FORMAT=json
VOLUME /data
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/tollgate"]
CMD ["serve"]
