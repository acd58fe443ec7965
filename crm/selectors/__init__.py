"""Tenant-scoped reads shared by views, the API and consumers, one module per concept."""
