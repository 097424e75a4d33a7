"""A gRPC server with the standard health service, for tests/grpc.rs.

usage: grpc_health_server.py PORT MODE [CERT KEY]

MODE "health": the health service, with the server ("") and "app.Orders"
NOT_SERVING until a line "serve" arrives on stdin, then SERVING.
MODE "bare": no health service at all (Check is UNIMPLEMENTED).
With CERT and KEY (PEM files) it listens with TLS. It prints "listening"
once it does, and "serving" after the switch.
"""
import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

port, mode = int(sys.argv[1]), sys.argv[2]
server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
servicer = health.HealthServicer()
if mode == "health":
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for service in ("", "app.Orders"):
        servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
address = f"127.0.0.1:{port}"
if len(sys.argv) > 4:
    with open(sys.argv[3], "rb") as c, open(sys.argv[4], "rb") as k:
        creds = grpc.ssl_server_credentials([(k.read(), c.read())])
    server.add_secure_port(address, creds)
else:
    server.add_insecure_port(address)
server.start()
print("listening", flush=True)
for line in sys.stdin:
    if line.strip() == "serve":
        for service in ("", "app.Orders"):
            servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
        print("serving", flush=True)
server.stop(0)
