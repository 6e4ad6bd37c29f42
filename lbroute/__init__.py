"""lbroute: BGP/ECMP route control for portable container load balancers.

Layout (the architecture, one room per concern; docs/architecture.md has every module):

* ``lbroute.core``     pure domain types and functions; imports no I/O library.
* ``lbroute.polling``  ``eventually()``, the one way to wait; ``lbroute.logs``: structlog set-up.
* ``lbroute.config``   the one config loader.
* ``lbroute.gobgp``    adapter: gobgpd over gRPC (generated stubs live in ``apipb``).
* ``lbroute.kernel``   adapter: network namespaces, links and the kernel FIB.
* ``lbroute.kube``     adapter: the Kubernetes API (list and watch).
* ``lbroute.lab``      the whole system in network namespaces with real daemons.
* ``lbroute.cli``      the operator's ``lbroute`` command.
* ``rr``               the route-reflector manager (``lbroute-rr``).
* ``announcer``        the exabgp API process in each LB pod (``lbroute-announcer``).
"""
