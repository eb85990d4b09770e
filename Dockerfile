# busywork's container image: one static binary, /busywork, whose default
# command is the worker (`docker run IMAGE web` runs the demo web app).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t busywork .
#
# The build context is an allow-list (.dockerignore): go.mod, go.sum and the
# packages the binary is built from. internal/shipping's tests check this
# file against the code without Docker.

# The builder runs on the build machine's platform and cross-compiles for
# the target's (docker buildx build --platform linux/amd64,linux/arm64).
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first: this layer is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/busywork ./cmd/busywork

# distroless static: CA certificates, tzdata and /etc/passwd, no shell, no
# package manager; the nonroot tag runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/busywork /busywork
USER 65532:65532
# In a container the listeners must take connections from outside it
# (published ports, Prometheus); the health check probes the loopback.
ENV BUSYWORK_ADMIN_ADDR=0.0.0.0:9090 \
    BUSYWORK_WEB_ADDR=0.0.0.0:8080
EXPOSE 8080 9090
# For Docker and compose; ECS ignores it, its task definition has its own.
# The web app's containers probe theirs with ["/busywork", "health", "--web"].
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/busywork", "health"]
ENTRYPOINT ["/busywork"]
CMD ["worker"]
