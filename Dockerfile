# palaver in a container: a multi-stage build (the Rust toolchain only in the first stage), a
# small Debian runtime, a user of its own, the database on a volume.
#
#   docker build -t palaver .
#   docker run -d --name palaver -p 7788:7788 -p 6667:6667 -p 8080:8080 \
#       -v palaver-data:/var/lib/palaver palaver
#
# Then open http://localhost:8080/, or `nc localhost 7788`. A configuration file goes in with
# `-v ./palaver.toml:/etc/palaver/palaver.toml:ro` and `--config /etc/palaver/palaver.toml`
# after the image name; `docker kill -s HUP palaver` reloads it; `docker stop` shuts down
# gracefully (SIGTERM). docs/OPERATIONS.md has more.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p palaver \
    && mkdir -p /out/man/man1 \
    && target/release/palaver man /out/man/man1 \
    && cp target/release/palaver /out/palaver

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/palaver --create-home palaver \
    && mkdir -p /etc/palaver
COPY --from=build /out/palaver /usr/bin/palaver
COPY --from=build /out/man/ /usr/share/man/
COPY palaver.example.toml /usr/share/doc/palaver/palaver.example.toml
USER palaver
WORKDIR /var/lib/palaver
VOLUME /var/lib/palaver
ENV PALAVER_DB=/var/lib/palaver/palaver.db \
    PALAVER_HTTP_LISTEN=127.0.0.1:9187
# text, IRC, the web client and IRC over WebSocket
EXPOSE 7788 6667 8080
# Healthy while /readyz answers 200 (the operations endpoint, on the container's loopback
# only): from the moment the server would print `ready` until shutdown begins. bash's
# /dev/tcp spares the image an HTTP client.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9187 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/bin/palaver", "serve"]
