"""The announcer: exabgp's API process in each LB pod.

``config`` (services and their VIPs) -> ``state`` (which routes should be announced, and
the commands that get exabgp there; pure) -> ``exabgp`` (the stdin/stdout API channel).
stdout belongs to exabgp: logs go to stderr only, and nothing here calls print().
"""
