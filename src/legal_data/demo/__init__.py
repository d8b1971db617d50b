"""``legal-data demo``: two law firms with realistic Japanese sample data.

:mod:`.firms` describes the sample firms, :mod:`.runner` loads them through the
library's public API as the application role, under Row Level Security, and shows
what it did (including one firm failing to see or touch the other's case).
"""
