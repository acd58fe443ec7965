"""The baseline of benchmarks/voice_webhooks.py: a bare view beside the product, never mounted
in the product's URLs (it has its own settings module and URLconf, used only by the benchmark).
"""
