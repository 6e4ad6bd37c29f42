"""``lbroute-dataplane`` (the LB pod's data-plane controller) and ``lbroute-realserver`` (its
backend-side agent for direct server return). See docs/dataplane.md."""
