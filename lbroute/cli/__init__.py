"""The operator's ``lbroute`` command: inspect the RIB and FIB, and run the lab."""
