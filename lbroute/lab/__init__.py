"""The lab: the seed's topology in network namespaces, with real gobgpd, FRR zebra and exabgp.

Pure: ``topology`` (who is where), ``scenario`` (what the lab is asked to do differently),
``expectations`` (the FIB the router must hold). I/O: ``configs`` (every file, written
first), ``network`` (namespaces and links), ``supervision``/``processes`` (daemons by
recorded PID), ``router`` (its FIB and sessions), ``traffic``/``request_loop`` (bounded
requests), ``state`` (what was created, so ``down`` cleans up after a crash); ``lab`` puts
them in order. The lab runs ``lbroute-rr`` and ``lbroute-announcer`` as programs and imports
neither, nor the CLI.
"""
