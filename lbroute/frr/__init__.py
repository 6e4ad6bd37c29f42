"""FRR as the upstream router: ``frr_conf`` renders its bgpd config (pure), ``vtysh`` reads its RIB
and sessions through ``vtysh`` (I/O)."""
