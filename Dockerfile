# memcached-http as a container: a static binary on a minimal base, run as a
# non-root user. Build: docker build -t memcached-http .
# Run: see README.md, "Container image".

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so editing the source does not download them again.
COPY go.mod go.sum ./
COPY sdk/go.mod sdk/go.sum ./sdk/
RUN go mod download
COPY . .
# CGO off: a static binary that needs no libc in the final image. The version
# comes from VERSION, which the binary embeds.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/memcached-http ./cmd/memcached-http \
	&& /out/memcached-http -version

# distroless/static: CA certificates, tzdata and a passwd file with the
# nonroot user (uid 65532), and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/memcached-http /usr/local/bin/memcached-http
USER 65532:65532
# In a container the server must listen beyond loopback; it still refuses to
# start without tokens unless -insecure is given (README: "Container image").
ENV MEMCACHED_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/memcached-http"]
