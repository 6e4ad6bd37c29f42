"""The lab: the seed's topology in network namespaces, with real gobgpd, FRR zebra and exabgp.

``topology`` says who is where (pure); ``state`` remembers what was created, so ``down``
cleans up after a crash; ``processes`` starts and ends daemons by recorded PID;
``daemons`` renders each daemon's command line and config; ``lab`` puts it together.
"""
