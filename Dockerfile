# syntax=docker/dockerfile:1
# Multi-stage build: a static setwarden binary on a distroless, non-root image.
FROM golang:1.26 AS build
# The official images say GOTOOLCHAIN=local; auto lets an image older than
# go.mod's toolchain line (go1.26.10, with the standard library's security
# fixes) fetch that release, and a newer one build with itself.
ENV GOTOOLCHAIN=auto
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY policies/ policies/
COPY webhook/ webhook/
COPY internal/ internal/
# The README holds the rule texts that setwarden explain prints (readme.go embeds it).
COPY README.md readme.go ./
ARG TARGETOS=linux
ARG TARGETARCH=amd64
# The release stamp `setwarden version` prints, as hack/dist.sh sets it
# (docker build --build-arg VERSION=v0.4.0 --build-arg REVISION=$(git rev-parse HEAD));
# empty, the binary says what its build information says. The flags are
# those of `make dist`: test/release keeps the two equal.
ARG VERSION=""
ARG REVISION=""
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X github.com/setwarden/setwarden/internal/version.version=${VERSION} -X github.com/setwarden/setwarden/internal/version.revision=${REVISION}" -o /out/setwarden ./cmd/setwarden

# `make image` builds the same image without Docker, FROM scratch with the
# parts of this base that setwarden uses (docs/install.md).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=""
ARG REVISION=""
LABEL org.opencontainers.image.title="setwarden" \
      org.opencontainers.image.source="https://github.com/setwarden/setwarden" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/setwarden /usr/local/bin/setwarden
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/setwarden"]
CMD ["serve"]
