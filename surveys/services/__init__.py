"""Every write of the surveys app: building versions, running responses, links and the IVR."""
