"""Adapter: gobgpd over gRPC. The only package that imports grpc and the generated stubs."""
