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
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/setwarden ./cmd/setwarden

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/setwarden /usr/local/bin/setwarden
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/setwarden"]
CMD ["serve"]
