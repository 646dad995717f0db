# raftmq broker image: static binaries on an empty base (no registry is
# reachable here, so there is no builder stage). Build it with `make image`,
# which runs `make build` (CGO_ENABLED=0) and stages the build context in
# bin/image/: raftmq, mqctl and an empty data/ directory.
#
# The daemon runs as the numeric non-root user 65532 and keeps its state in
# the /data volume (owned by that user: a new named volume copies the
# ownership). Ports: 9876 gRPC (clients), 9877 Raft, 7946 gossip (TCP+UDP).
FROM scratch

COPY raftmq mqctl /usr/local/bin/
COPY --chown=65532:65532 data /data

USER 65532:65532
VOLUME ["/data"]
EXPOSE 9876/tcp 9877/tcp 7946/tcp 7946/udp

HEALTHCHECK --interval=3s --timeout=3s --start-period=60s --retries=3 \
	CMD ["/usr/local/bin/mqctl", "health", "--server", "127.0.0.1:9876", "--timeout", "2s"]

ENTRYPOINT ["/usr/local/bin/raftmq"]
CMD ["--data-dir", "/data", "--grpc-addr", "0.0.0.0:9876", "--auto-create-topics"]
