"""The route-reflector manager: owns a gobgpd's configuration over gRPC and keeps it converged.

``config`` (what the operator wrote) -> ``desired`` (what gobgpd should hold, pure) ->
``lbroute.core.bgp.plan`` (the difference, pure) -> ``reconcile`` (observe, apply, retry).
The same program configures the upstream router's gobgpd (role ``router``).
"""
