"""Adapter: network namespaces, links and the kernel's routing table, through iproute2."""
